"""The format engine: record layouts and agency profiles declared in YAML under include/formats/.

``load_layout(name).write(header, details)`` gives a file's bytes; ``.read(data, file_name)`` parses
and checks one (``FormatError`` names file, line and field). ``load_profile(agency)`` gives an
agency's naming, layouts, folders and modes.
"""

from inkasso.formats.errors import FormatError, LayoutError
from inkasso.formats.layout import Layout, list_layouts, load_layout
from inkasso.formats.parsed import ParsedChunk, ParsedFile, Record
from inkasso.formats.profile import (
    KIND_COLUMNS,
    AgencyProfile,
    FileSpec,
    RemoteFolders,
    list_profiles,
    load_profile,
)

__all__ = [
    "KIND_COLUMNS",
    "AgencyProfile",
    "FileSpec",
    "FormatError",
    "Layout",
    "LayoutError",
    "ParsedChunk",
    "ParsedFile",
    "Record",
    "RemoteFolders",
    "list_layouts",
    "list_profiles",
    "load_layout",
    "load_profile",
]
