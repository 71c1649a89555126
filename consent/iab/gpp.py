"""GPP Core encoding: bits, Fibonacci integers, base64url, the header and its section list. No Django.

Spec: GPP Consent String Specification v1 ("Core"), against the IAB reference encoder (@iabgpp/cmpapi).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

GPP_HEADER_TYPE = 3
GPP_VERSION = 1

_BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_BASE64URL_INDEX = {character: index for index, character in enumerate(_BASE64URL)}


def fibonacci_code(value: int) -> str:
    """Fibonacci code of an integer >= 1: Zeckendorf bits for 1, 2, 3, 5, 8, ... then a closing "1"."""
    # GPP Core, "About Fibonacci Encoding": 1 -> 11, 2 -> 011, 3 -> 0011, 4 -> 1011.
    if value < 1:
        raise ValueError("A Fibonacci-coded integer must be at least 1.")
    fibonacci = [1, 2]
    while fibonacci[-1] + fibonacci[-2] <= value:
        fibonacci.append(fibonacci[-1] + fibonacci[-2])
    while fibonacci[-1] > value:
        fibonacci.pop()
    bits = ["0"] * len(fibonacci)
    remainder = value
    for index in reversed(range(len(fibonacci))):
        if fibonacci[index] <= remainder:
            bits[index] = "1"
            remainder -= fibonacci[index]
    return "".join(bits) + "1"


def fibonacci_value(code: str) -> int:
    """The integer of a Fibonacci code (its closing "1" included)."""
    total, current, following = 0, 1, 2
    for bit in code[:-1]:
        if bit == "1":
            total += current
        current, following = following, current + following
    return total


class BitWriter:
    """Appends GPP data types to a bit string and renders it as base64url without padding."""

    def __init__(self) -> None:
        self._bits: list[str] = []

    def write_int(self, value: int, width: int) -> None:
        """Int(width): a fixed-width unsigned integer, most significant bit first."""
        if not 0 <= value < 1 << width:
            raise ValueError(f"{value} does not fit in {width} bits.")
        self._bits.append(format(value, f"0{width}b"))

    def write_bool(self, value: bool) -> None:
        """Boolean: one bit, 1 = true."""
        # A16: GPP Core's data-type table says "0=true, 1=false", but the California spec's GPC table, the
        # reference encoder and independent decoders all use 1 = true.
        self._bits.append("1" if value else "0")

    def write_fibonacci_range(self, ids: Sequence[int]) -> None:
        """Range(Fibonacci): Int(12) group count, then per group an is-range bit and Fibonacci offsets."""
        # GPP Core, "Range (Fibonacci)": a group's first id is an offset from the last id seen (0 at the
        # start); a range then gives its length (last id minus first id). Ids must be sorted.
        groups: list[tuple[int, int]] = []
        for section_id in sorted(set(ids)):
            if groups and groups[-1][1] + 1 == section_id:
                groups[-1] = (groups[-1][0], section_id)
            else:
                groups.append((section_id, section_id))
        self.write_int(len(groups), 12)
        last = 0
        for first, final in groups:
            self._bits.append("0" if first == final else "1")
            self._bits.append(fibonacci_code(first - last))
            if first != final:
                self._bits.append(fibonacci_code(final - first))
            last = final

    def to_base64url(self) -> str:
        """The bits padded with zeros to whole bytes, then to whole 6-bit characters, as base64url."""
        # GPP Core, "Creating a GPP String" asks only for padding to a multiple of 6, but its own examples
        # ("DBABMA", "DBACNYA") and the reference encoder pad to whole bytes first: a 3-bit GPC sub-section
        # is "YA", not "Y". Decoders ignore the trailing zeros either way.
        bits = "".join(self._bits)
        bits += "0" * (-len(bits) % 8)
        bits += "0" * (-len(bits) % 6)
        return "".join(_BASE64URL[int(bits[start : start + 6], 2)] for start in range(0, len(bits), 6))


class BitReader:
    """Reads GPP data types back from a base64url (sub-)section."""

    def __init__(self, encoded: str) -> None:
        if not encoded or any(character not in _BASE64URL_INDEX for character in encoded):
            raise ValueError("A GPP (sub-)section must be non-empty base64url.")
        self._bits = "".join(format(_BASE64URL_INDEX[character], "06b") for character in encoded)
        self._position = 0

    def read_int(self, width: int) -> int:
        end = self._position + width
        if end > len(self._bits):
            raise ValueError("The GPP (sub-)section is shorter than its fields.")
        value = int(self._bits[self._position : end], 2)
        self._position = end
        return value

    def read_bool(self) -> bool:
        return self.read_int(1) == 1

    def read_fibonacci(self) -> int:
        end = self._bits.find("11", self._position)
        if end < 0:
            raise ValueError("A Fibonacci-coded integer has no closing 11.")
        value = fibonacci_value(self._bits[self._position : end + 2])
        self._position = end + 2
        return value

    def read_fibonacci_range(self) -> list[int]:
        ids: list[int] = []
        last = 0
        for _ in range(self.read_int(12)):
            is_range = self.read_bool()
            first = last + self.read_fibonacci()
            final = first + self.read_fibonacci() if is_range else first
            ids.extend(range(first, final + 1))
            last = final
        return ids


def gpp_string(sections: Mapping[int, str]) -> str:
    """A GPP string: the header listing the section ids, then the encoded sections in id order, joined by "~"."""
    # GPP Core, "Creating a GPP String": sections are sorted by id and the header lists them in that order.
    if not sections:
        raise ValueError("A GPP string needs at least one section.")
    if any(section_id < 1 for section_id in sections):
        raise ValueError("GPP section ids are positive integers.")
    if any(not body or "~" in body for body in sections.values()):
        raise ValueError("An encoded GPP section must be non-empty and must not contain '~'.")
    ids = sorted(sections)
    header = BitWriter()
    header.write_int(GPP_HEADER_TYPE, 6)
    header.write_int(GPP_VERSION, 6)
    header.write_fibonacci_range(ids)
    return "~".join([header.to_base64url(), *(sections[section_id] for section_id in ids)])


def gpp_sid(gpp: str) -> list[int]:
    """The section ids a GPP string's header lists, in string order: the `gpp_sid` transport value."""
    header, *bodies = gpp.split("~")
    reader = BitReader(header)
    if reader.read_int(6) != GPP_HEADER_TYPE:
        raise ValueError("The GPP string does not start with a GPP header.")
    if reader.read_int(6) != GPP_VERSION:
        raise ValueError("Unsupported GPP version.")
    ids = reader.read_fibonacci_range()
    if len(ids) != len(bodies):
        raise ValueError("The GPP header lists a different number of sections than the string holds.")
    return ids
