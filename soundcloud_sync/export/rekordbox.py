"""The library as a rekordbox XML collection, the interchange format DJ programs read.

Layout (Pioneer's "rekordbox xml format" document): `DJ_PLAYLISTS` → `PRODUCT`,
`COLLECTION` of `TRACK`s, each with a `TEMPO` beat grid and a memory cue
(`POSITION_MARK`) at the first downbeat when the analysis found them, then
`PLAYLISTS` → `ROOT` → one folder per source → one playlist per synced playlist,
whose entries name tracks by `TrackID`.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from importlib.metadata import PackageNotFoundError, version

from .library import ExportTrack, Library
from .paths import PathMap, location_url, map_path

KINDS = {"aiff": "AIFF File", "wav": "WAV File", "m4a": "M4A File", "mp3": "MP3 File"}
# rekordbox's key names, by pitch class from C.
MAJOR_KEYS = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MINOR_KEYS = ("Cm", "Dbm", "Dm", "Ebm", "Em", "Fm", "F#m", "Gm", "Abm", "Am", "Bbm", "Bm")
_PITCH = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
# Characters XML 1.0 cannot carry at all (titles are free text from the internet).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def tonality(key: str | None) -> str | None:
    """`"A minor"` -> `"Am"`, `"C# major"` -> `"Db"`: the names rekordbox shows."""
    if not key:
        return None
    parts = key.split()
    if len(parts) != 2 or not parts[0] or parts[0][0].upper() not in _PITCH:
        return None
    note, mode = parts[0], parts[1].lower()
    pitch = _PITCH[note[0].upper()] + note[1:].count("#") - note[1:].count("b")
    names = MINOR_KEYS if mode == "minor" else MAJOR_KEYS if mode == "major" else None
    return names[pitch % 12] if names else None


def beat_in_bar(first_beat_s: float, first_downbeat_s: float | None, tempo: float) -> int:
    """Which beat of its 4/4 bar the first beat is (1-4), counted from the downbeat."""
    if first_downbeat_s is None:
        return 1
    beats = round((first_beat_s - first_downbeat_s) * tempo / 60)
    return beats % 4 + 1


def _text(value: object) -> str:
    return _NOT_XML.sub("", str(value))


def _product_version() -> str:
    try:
        return version("soundcloud-sync")
    except PackageNotFoundError:
        return "0"


def track_element(parent: ET.Element, track: ExportTrack, path_map: PathMap) -> ET.Element:
    attrs = {
        "TrackID": str(track.track_id),
        "Name": _text(track.title),
        "Artist": _text(track.artist),
        "Album": _text(track.album),
        "Genre": _text(track.genre),
        "Kind": KINDS.get(track.format, f"{track.format.upper()} File"),
        "Size": str(track.size),
        "TotalTime": str(round(track.duration_s or 0)),
        "AverageBpm": f"{track.tempo:.2f}" if track.tempo else "0.00",
        "DateAdded": track.date_added,
        "Comments": _text(track.url),
        "Tonality": tonality(track.key) or "",
        "Location": location_url(map_path(track.path, path_map)),
    }
    element = ET.SubElement(parent, "TRACK", attrs)
    if track.tempo and track.first_beat_s is not None:
        ET.SubElement(element, "TEMPO", {
            "Inizio": f"{track.first_beat_s:.3f}",
            "Bpm": f"{track.tempo:.2f}",
            "Metro": "4/4",
            "Battito": str(beat_in_bar(track.first_beat_s, track.first_downbeat_s, track.tempo)),
        })  # fmt: skip
    if track.first_downbeat_s is not None:
        ET.SubElement(element, "POSITION_MARK", {
            "Name": "", "Type": "0", "Start": f"{track.first_downbeat_s:.3f}", "Num": "-1",
        })  # fmt: skip
    return element


def collection_xml(library: Library, path_map: PathMap = ()) -> bytes:
    """The whole collection as UTF-8 XML bytes."""
    root = ET.Element("DJ_PLAYLISTS", {"Version": "1.0.0"})
    ET.SubElement(root, "PRODUCT", {
        "Name": "soundcloud-sync", "Version": _product_version(), "Company": "soundcloud-sync",
    })  # fmt: skip
    collection = ET.SubElement(root, "COLLECTION", {"Entries": str(len(library.tracks))})
    for track in library.tracks.values():
        track_element(collection, track, path_map)
    sources: dict[str, list] = {}
    for playlist in library.playlists:
        sources.setdefault(playlist.source, []).append(playlist)
    nodes = ET.SubElement(root, "PLAYLISTS")
    top = ET.SubElement(nodes, "NODE", {"Type": "0", "Name": "ROOT", "Count": str(len(sources))})
    for source, members in sources.items():
        folder = ET.SubElement(top, "NODE", {
            "Type": "0", "Name": source, "Count": str(len(members)),
        })  # fmt: skip
        for playlist in members:
            node = ET.SubElement(folder, "NODE", {
                "Name": _text(playlist.name), "Type": "1", "KeyType": "0",
                "Entries": str(len(playlist.track_ids)),
            })  # fmt: skip
            for rid in playlist.track_ids:
                ET.SubElement(node, "TRACK", {"Key": str(library.tracks[rid].track_id)})
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n").encode("utf-8")
