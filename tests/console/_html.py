"""Reading the detail pages' HTML in tests: the figures marked for machines (data-* attributes),
the JSON data blocks, and the content security policy's rules (no inline code or style)."""

from __future__ import annotations

import json
import re
from typing import Any


def attrs(html: str, name: str) -> dict[str, str]:
    """`{value of data-NAME: the element's data-units}` for every element carrying both, in
    the page's order (the figures a page marks for machines)."""
    found: dict[str, str] = {}
    for tag in re.findall(r"<[^>]+>", html):
        key = re.search(rf'data-{name}="([^"]*)"', tag)
        units = re.search(r'data-units="([^"]*)"', tag)
        if key and units:
            found[key.group(1)] = units.group(1)
    return found


def json_block(html: str, block_id: str) -> Any:
    """The JSON data block <script type="application/json" id=ID> of a page."""
    found = re.search(
        rf'<script type="application/json" id="{block_id}">(.*?)</script>', html, re.DOTALL
    )
    assert found, f"no JSON block {block_id}"
    return json.loads(found.group(1))


def assert_no_inline_script(html: str) -> None:
    """Every script is a file of the console's or a JSON data block (the CSP allows no more)."""
    for tag in re.findall(r"<script[^>]*>", html):
        assert 'src="/static/' in tag or 'type="application/json"' in tag, tag
    assert not re.search(r"\son[a-z]+=", html), "an on* handler in the page"
    assert not re.search(r'\sstyle="', html), "a style attribute in the page"
