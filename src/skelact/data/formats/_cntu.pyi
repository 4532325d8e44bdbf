"""Type stub of the compiled NTU reader (``_cntu.c``)."""

def parse(
    buf: bytes | bytearray | memoryview, cols: bytes, max_slot: int, /
) -> tuple[bytearray, bytearray, bytearray] | None: ...
