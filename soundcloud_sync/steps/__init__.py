"""The importer's steps, one module per domain: how the rooms' results (sources, Notion,
audio, Eagle) meet the catalog.

Each module is the one door its Dagster assets call, and the read-only paths of the API
(the dry run) call the same functions, so there is one implementation of each step:

- `steps.listing`: a playlist's listing as the catalog records it; recordings
  SoundCloud's identity is missing from looked up on SoundCloud.
- `steps.notion`: track pages upserted and linked, removals unlinked, the dry run's
  plan, the analysis written back.
- `steps.djay`: djay Pro's library matched to the catalog's recordings, and its
  analysis compared with ours.
- `steps.audio`: downloads, analysis, library files (convert and tag).
- `steps.eagle`: library files imported into Eagle.
- `steps.progress`: the progress lines a step logs and a terminal draws.

Between steps a track travels as a `catalog.TrackRow`, keyed by its recording id.
"""
