"""Masking of national ids in the report: the project's one ``mask_text`` (``inkasso.masking``)."""

from inkasso.masking import mask_text

__all__ = ["mask_text", "printable_name"]


def printable_name(name: object) -> str:
    """A file name as a bank's server listed it, safe to print in a mail: national ids masked,
    backslash and double quote escaped, every character that is not printable (control
    characters, line and paragraph separators, bidi overrides, zero-width marks) as ``\\xNN``,
    ``\\uNNNN`` or ``\\UNNNNNNNN``, the whole in double quotes. Path parts (``/``, ``..``) stay
    visible as the text they are. HTML escaping is left to the template's autoescape."""
    out = []
    for c in mask_text(name):
        if c in '\\"':
            out.append("\\" + c)
        elif c.isprintable():
            out.append(c)
        elif ord(c) < 0x100:
            out.append(f"\\x{ord(c):02x}")
        elif ord(c) < 0x10000:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(f"\\U{ord(c):08x}")
    return '"' + "".join(out) + '"'
