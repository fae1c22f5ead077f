"""SQLite: reading the text of a ``CREATE TABLE`` statement (SQLite keeps no catalogue of
named checks, and rebuilding a table means editing its SQL)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from migration_ops.core.schema import ForeignKey

# SQL tokens, enough to tell keywords from string literals, quoted names and comments.
_TOKEN = re.compile(
    r"""
      '(?:[^']|'')*'        # string literal
    | "(?:[^"]|"")*"        # quoted names
    | `(?:[^`]|``)*`
    | \[[^\]]*\]
    | --[^\n]*             # comments
    | /\*.*?(?:\*/|$)
    | \w+                   # keywords and bare names
    | \S                    # punctuation
    """,
    re.VERBOSE | re.DOTALL,
)


def named_checks(create_table_sql: str) -> list[str]:
    """Names of the ``CONSTRAINT <name> CHECK`` clauses of a CREATE TABLE statement."""
    if "CONSTRAINT" not in create_table_sql.upper():
        return []
    tokens = [t for t in _TOKEN.findall(create_table_sql) if not t.startswith(("--", "/*"))]
    return [
        _unquote(tokens[i + 1])
        for i, token in enumerate(tokens[:-2])
        if token.upper() == "CONSTRAINT" and tokens[i + 2].upper() == "CHECK"
    ]


def _unquote(name: str) -> str:
    if len(name) >= 2 and (name[0], name[-1]) in {('"', '"'), ("`", "`"), ("[", "]")}:
        quote = name[-1]
        return name[1:-1].replace(quote * 2, quote)
    return name


def sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# Tokens of a CREATE TABLE statement: what to skip, names (quoted or not, keywords
# included), string literals, and the rest one punctuation mark or run at a time.
_SQL_TOKEN = re.compile(
    r"""
    (?P<skip>\s+|--[^\n]*|/\*.*?(?:\*/|$))
  | (?P<name>"(?:[^"]|"")*"|`(?:[^`]|``)*`|\[[^\]]*\]|[A-Za-z_][A-Za-z0-9_$]*)
  | (?P<string>'(?:[^']|'')*')
  | (?P<other>[(),]|[^\s(),'"`\[A-Za-z_]+)
    """,
    re.VERBOSE | re.DOTALL,
)


# A named tuple, not a frozen dataclass: cheaper to create at import (see expected.py).
class _Token(NamedTuple):
    kind: str
    text: str
    start: int
    end: int

    @property
    def word(self) -> str:
        """The upper-cased keyword, or "" for anything else."""
        return self.text.upper() if self.kind == "name" and self.text[0].isalpha() else ""

    @property
    def ident(self) -> str:
        return _unquote(self.text).casefold() if self.kind == "name" else ""


def _tokens(sql: str) -> list[_Token]:
    tokens = []
    for match in _SQL_TOKEN.finditer(sql):
        kind = match.lastgroup or "other"
        if kind != "skip":
            tokens.append(_Token(kind, match.group(), match.start(), match.end()))
    return tokens


def without_foreign_key(create_sql: str, foreign_key: ForeignKey, new_name: str) -> str | None:
    """``create_sql`` (a CREATE TABLE statement) renamed to ``new_name`` (quoted) and
    without the clause of ``foreign_key``, or None unless exactly one clause matches.

    Handles both forms SQLite accepts: a column constraint (``"x" bigint NULL REFERENCES
    "t" ("id") DEFERRABLE INITIALLY DEFERRED``, as Django writes it) and a table
    constraint (``[CONSTRAINT n] FOREIGN KEY ("x") REFERENCES "t" ("id") ...``).
    """
    tokens = _tokens(create_sql)
    opening = next((i for i, t in enumerate(tokens) if t.text == "("), None)
    if not opening:
        return None
    items = _body_items(tokens, opening)
    if items is None:
        return None
    target = foreign_key.to_table.casefold()
    columns = tuple(c.casefold() for c in foreign_key.columns)
    spans: list[tuple[int, int]] = []
    for n, item in enumerate(items):
        if not item:
            continue
        first = 2 if item[0].word == "CONSTRAINT" else 0
        head = item[first].word if first < len(item) else ""
        if head == "FOREIGN":
            references = next((i for i, t in enumerate(item) if t.word == "REFERENCES"), None)
            if references is None or references + 1 >= len(item):
                continue
            own = tuple(t.ident for t in item[first + 1 : references] if t.kind == "name")
            if own[1:] == columns and item[references + 1].ident == target:
                # The whole item, with the comma that separates it from its neighbour.
                if n > 0:
                    spans.append((items[n - 1][-1].end, item[-1].end))
                elif n + 1 < len(items) and items[n + 1]:
                    spans.append((item[0].start, items[n + 1][0].start))
                else:
                    spans.append((item[0].start, item[-1].end))
            continue
        if head in ("PRIMARY", "UNIQUE", "CHECK") or len(columns) != 1:
            continue
        if item[0].ident != columns[0]:
            continue
        for j, token in enumerate(item):
            if token.word == "REFERENCES" and j + 1 < len(item) and item[j + 1].ident == target:
                start = j - 2 if j >= 2 and item[j - 2].word == "CONSTRAINT" else j
                end = _clause_end(item, j + 2)
                spans.append((item[start - 1].end, item[end].end))
    if len(spans) != 1:
        return None
    start, end = spans[0]
    name = tokens[opening - 1]
    return create_sql[: name.start] + new_name + create_sql[name.end : start] + create_sql[end:]


def _body_items(tokens: list[_Token], opening: int) -> list[list[_Token]] | None:
    """The comma-separated items between the parenthesis at ``opening`` and its match."""
    items: list[list[_Token]] = [[]]
    depth = 0
    for token in tokens[opening:]:
        if token.text == "(":
            depth += 1
            if depth == 1:
                continue
        elif token.text == ")":
            depth -= 1
            if depth == 0:
                return items
        elif token.text == "," and depth == 1:
            items.append([])
            continue
        items[-1].append(token)
    return None


def _clause_end(item: list[_Token], i: int) -> int:
    """Index of the last token of a REFERENCES clause whose table name is at ``i - 1``."""
    last = i - 1
    if i < len(item) and item[i].text == "(":
        while i < len(item) and item[i].text != ")":
            i += 1
        last, i = i, i + 1

    def word(k: int) -> str:
        return item[k].word if k < len(item) else ""

    while i < len(item):
        if word(i) == "ON" and word(i + 1) in ("DELETE", "UPDATE"):
            action = word(i + 2)
            if action in ("SET", "NO"):
                last = i + 3
            elif action in ("CASCADE", "RESTRICT"):
                last = i + 2
            else:
                break
        elif word(i) == "MATCH" or (word(i) == "NOT" and word(i + 1) == "DEFERRABLE"):
            last = i + 1
        elif word(i) == "DEFERRABLE":
            last = i
        elif word(i) == "INITIALLY":
            last = i + 1
        else:
            break
        i = last + 1
    return min(last, len(item) - 1)
