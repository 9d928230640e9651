"""The importer's steps, one module per domain: how the rooms' results meet the catalog.

- `steps.djay`: djay Pro's library matched to the catalog's recordings, and its
  analysis compared with ours.
"""
