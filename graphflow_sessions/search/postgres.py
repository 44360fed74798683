"""The PostgreSQL search index: side tables kept current by triggers on the sessions table.

Tables (all prefixed ``gfs_search_``):

- ``gfs_search_session``: one row per indexed session: the tsvector of its graph, current
  task, status message and the string values of its data (``doc``), a hash of those fields
  (``fields``), and where its history starts in the message rows (``head``, the ``seq`` of the
  message at position 0) and how long it is (``message_count``).
- ``gfs_search_message``: one row per message: ``seq`` (position ``seq - head``), the
  message's fingerprint (md5 of its JSON) and the tsvector of its content.
- ``gfs_search_progress``: how far the index command has got (``index_complete``).

On every insert (after it) or update (before it is stored, while the new context is still
in memory: see ``sql.search_triggers``) of a session, ``gfs_search_apply`` compares the new
history with the fingerprints of the indexed one: the last indexed message is looked for
among the last ``TAIL_WINDOW`` new ones, which tells how many messages were appended and
how many trimmed from the head (checked against the first message), so a save tokenizes only
new messages. Anything else (a clear, a rewrite) rebuilds the session's message rows. A
rewrite in the middle that keeps the first and last messages is not seen;
``graphflow_sessions_index --verify`` repairs it.

Text is folded as ``terms.fold`` does (NFKD, combining marks removed, lower case) and split
by PostgreSQL's ``simple`` parser; runs of CJK characters also get their bigrams, so any
substring of two or more characters is found. No extension is needed (``normalize`` is
PostgreSQL 13+).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from django.db import connections, transaction
from django.db.models import BooleanField, F, Func, QuerySet
from django.db.models.expressions import RawSQL

from ..storage import sql
from ..storage.flavour import Flavour, flavour_of
from .terms import SearchQuery, TermKind

__all__ = [
    "BATCH_BYTES",
    "CJK_CHARACTERS",
    "MAX_INDEXED_CHARACTERS",
    "TAIL_WINDOW",
    "Batch",
    "delete_orphans",
    "index_batch",
    "unindexed_count",
    "COMMON_SHARE",
    "CompiledTerm",
    "IndexMatches",
    "TermMatches",
    "compile_terms",
    "filter_sessions",
    "index_complete",
    "index_installed",
    "install",
    "reinstall",
    "mark_progress",
    "message_positions",
    "progress",
    "uninstall",
]

#: Characters of one message (or of one session's fields) that are indexed: a tsvector holds
#: at most 1 MB, and bigrams of a long CJK run would pass that.
MAX_INDEXED_CHARACTERS = 100_000

#: How many of the newest messages a save looks through for the last indexed one.
TAIL_WINDOW = 64

#: Scripts written without spaces (after NFKD: Hangul as jamo), indexed by bigrams too.
CJK_CHARACTERS = (
    r"\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
)

# The combining marks ``terms.fold`` drops (unicodedata.combining is non-zero for these).
_COMBINING = r"\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f\u3099\u309a"

# Put between fields so that a phrase never runs from one into the next (removed again,
# leaving a gap in the positions).
_SEPARATOR = "gfssearchsep"

_FUNCTIONS = [
    # The id of a uuid table as a uuid (NULL for other text): lets a search walk the sessions
    # table's primary key from the side tables and back.
    r"""
CREATE OR REPLACE FUNCTION gfs_search_uuid(t text) RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN t ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
    THEN t::uuid END
$$""",
    # ASCII text (as many bytes as characters in UTF-8) is its own NFKD form without
    # combining marks: only lowered, which skips a third of the cost of indexing a message.
    rf"""
CREATE OR REPLACE FUNCTION gfs_search_fold(t text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN octet_length(t) = length(t) THEN lower(left(t, {MAX_INDEXED_CHARACTERS}))
    ELSE lower(regexp_replace(normalize(left(t, {MAX_INDEXED_CHARACTERS}), NFKD),
                              '[{_COMBINING}]', '', 'g')) END
$$""",
    # What is tokenized for stored text: the folded text, then the bigrams of its CJK runs
    # (looked for only in text that has such characters: the search costs more than the
    # tokenizing). PL/pgSQL, not SQL: a SQL function with a subquery is not inlined and is
    # planned again in every transaction (a quarter of a millisecond per save), where a
    # PL/pgSQL function keeps its plans for the connection.
    rf"""
CREATE OR REPLACE FUNCTION gfs_search_text(t text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  f text := gfs_search_fold(t);
BEGIN
  IF f IS NULL OR f !~ '[{CJK_CHARACTERS}]' THEN
    RETURN f;
  END IF;
  RETURN f || coalesce((
    SELECT ' ' || string_agg(substr(r.run[1], i, 2), ' ' ORDER BY r.n, i)
    FROM regexp_matches(f, '[{CJK_CHARACTERS}]{{2,}}', 'g') WITH ORDINALITY AS r(run, n),
         generate_series(1, length(r.run[1]) - 1) AS i), '');
END $$""",
    # What is tokenized for a query: CJK runs replaced by their bigrams, which the phrase
    # query then chains (a <-> b <-> c), so a run matches as a substring.
    rf"""
CREATE OR REPLACE FUNCTION gfs_search_query_text(t text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(string_agg(
    CASE WHEN p.piece[1] IS NOT NULL AND length(p.piece[1]) > 1 THEN (
      SELECT string_agg(substr(p.piece[1], i, 2), ' ' ORDER BY i)
      FROM generate_series(1, length(p.piece[1]) - 1) AS i)
    ELSE coalesce(p.piece[1], p.piece[2]) END, ' ' ORDER BY p.n), '')
  FROM regexp_matches(gfs_search_fold(t), '([{CJK_CHARACTERS}]+)|([^{CJK_CHARACTERS}]+)', 'g')
       WITH ORDINALITY AS p(piece, n)
$$""",
    # One term as a tsquery: kind is 'word', 'prefix' or 'phrase'.
    r"""
CREATE OR REPLACE FUNCTION gfs_search_tsquery(kind text, words text) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN kind = 'prefix' AND q::text <> ''
    THEN regexp_replace(q::text, '''$', ''':*')::tsquery ELSE q END
  FROM phraseto_tsquery('simple', gfs_search_query_text(words)) AS q
$$""",
    # PL/pgSQL for the same reason as gfs_search_text (a data change is a common save).
    rf"""
CREATE OR REPLACE FUNCTION gfs_search_fields_doc(graph text, task text, status text, data jsonb)
RETURNS tsvector LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
  RETURN ts_delete(to_tsvector('simple', gfs_search_text(concat_ws(' {_SEPARATOR} ',
    graph, task, status,
    (SELECT string_agg(v #>> '{{}}', ' {_SEPARATOR} ')
     FROM jsonb_path_query(data, 'strict $.** ? (@.type() == "string")') AS v)))),
    '{_SEPARATOR}');
END $$""",
    r"""
CREATE OR REPLACE FUNCTION gfs_search_fields_hash(graph text, task text, status text, data jsonb)
RETURNS uuid LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT md5(jsonb_build_array(graph, task, status, data)::text)::uuid
$$""",
    # The messages array (an empty one where a writer stored something else).
    r"""
CREATE OR REPLACE FUNCTION gfs_search_history(ctx jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  msgs jsonb := ctx -> 'chat_history' -> 'messages';
BEGIN
  IF jsonb_typeof(msgs) IS DISTINCT FROM 'array' THEN
    RETURN '[]';
  END IF;
  RETURN msgs;
END $$""",
    # The message at position p of ctx's history, reached through its offsets: neither the
    # history nor the context is copied (ctx -> 'chat_history' -> 'messages' would copy both).
    r"""
CREATE OR REPLACE FUNCTION gfs_search_message_at(ctx jsonb, p integer) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT jsonb_extract_path(ctx, 'chat_history', 'messages', p::text)
$$""",
    # Message rows for positions [first, last) of ctx's history, numbered from head. ctx is
    # in memory (see gfs_search_apply). A message with no text content (not an object, no
    # "content") gets an empty doc: a write never fails.
    r"""
CREATE OR REPLACE FUNCTION gfs_search_add_messages(
  sid text, ctx jsonb, first integer, last integer, head bigint
) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  m jsonb;
BEGIN
  IF last - first <= 8 THEN
    -- A save appends a message or two: each is reached alone, never the whole history.
    FOR p IN first .. last - 1 LOOP
      m := gfs_search_message_at(ctx, p);
      INSERT INTO gfs_search_message (session_id, seq, fingerprint, doc)
      VALUES (sid, head + p, md5(m::text)::uuid,
              coalesce(to_tsvector('simple', gfs_search_text(m ->> 'content')), ''));
    END LOOP;
  ELSE
    INSERT INTO gfs_search_message (session_id, seq, fingerprint, doc)
    SELECT sid, head + x.p - 1, md5(x.m::text)::uuid,
           coalesce(to_tsvector('simple', gfs_search_text(x.m ->> 'content')), '')
    FROM jsonb_array_elements(ctx #> '{chat_history,messages}') WITH ORDINALITY AS x(m, p)
    WHERE x.p > first AND x.p <= last;
  END IF;
END $$""",
    # Bring one session's index rows up to date with its new values (rebuild: all of them).
    # ctx must be in memory, neither compressed nor in TOAST: callers pass ``ctx #> '{}'``,
    # which is the value itself when it is (a save's new row, before the update stores it)
    # and otherwise reads it once; each reference below would read a stored value again.
    rf"""
CREATE OR REPLACE FUNCTION gfs_search_apply(
  sid text, graph text, task text, status text, ctx jsonb, rebuild boolean
) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  -- The history's length without copying it (strict: NULL when it is not an array).
  new_len integer := coalesce(jsonb_path_query_first(
    ctx, 'strict $.chat_history.messages.size()', '{{}}', true)::integer, 0);
  -- gfs_search_fields_hash, written out: a SQL function called here is planned again in
  -- every transaction.
  new_fields uuid := md5(jsonb_build_array(graph, task, status, ctx -> 'data')::text)::uuid;
  new_head bigint;
  st record;
  j integer;
  lowest integer;
  trimmed integer;
  first_fp uuid;
  done boolean := false;
BEGIN
  -- No lock of its own: every caller holds the session row's lock (a save's, or the index
  -- command's FOR UPDATE), which serialises the writers of one session. The first and last
  -- indexed fingerprints come with the state row: one statement tells an append.
  SELECT s.head, s.message_count, s.fields, l.fingerprint AS last_fp,
         f.fingerprint AS first_fp INTO st
  FROM gfs_search_session s
  LEFT JOIN gfs_search_message l
    ON l.session_id = s.session_id AND l.seq = s.head + s.message_count - 1
  LEFT JOIN gfs_search_message f ON f.session_id = s.session_id AND f.seq = s.head
  WHERE s.session_id = sid;
  IF NOT FOUND THEN
    INSERT INTO gfs_search_session (session_id, head, message_count, fields, doc)
    VALUES (sid, 0, new_len, new_fields,
            gfs_search_fields_doc(graph, task, status, ctx -> 'data'));
    DELETE FROM gfs_search_message WHERE session_id = sid;
    PERFORM gfs_search_add_messages(sid, ctx, 0, new_len, 0);
    RETURN;
  END IF;
  new_head := st.head;
  IF NOT rebuild AND st.message_count > 0 AND new_len > 0 THEN
    j := new_len - 1;
    lowest := greatest(0, new_len - {TAIL_WINDOW});
    WHILE j >= lowest
          AND md5(gfs_search_message_at(ctx, j)::text)::uuid IS DISTINCT FROM st.last_fp LOOP
      j := j - 1;
    END LOOP;
    trimmed := st.message_count - 1 - j;
    IF j >= lowest AND trimmed >= 0 THEN
      IF trimmed = 0 THEN
        first_fp := st.first_fp;
      ELSE
        SELECT fingerprint INTO first_fp FROM gfs_search_message
        WHERE session_id = sid AND seq = st.head + trimmed;
      END IF;
      IF md5(gfs_search_message_at(ctx, 0)::text)::uuid = first_fp THEN
        IF trimmed > 0 THEN
          DELETE FROM gfs_search_message WHERE session_id = sid AND seq < st.head + trimmed;
        END IF;
        new_head := st.head + trimmed;
        IF j + 1 < new_len THEN
          PERFORM gfs_search_add_messages(sid, ctx, j + 1, new_len, new_head);
        END IF;
        done := true;
      END IF;
    END IF;
  ELSIF NOT rebuild AND st.message_count = 0 AND new_len = 0 THEN
    done := true;
  END IF;
  IF NOT done THEN
    -- Cleared, rewritten or not recognised: index the history again, with fresh numbers.
    DELETE FROM gfs_search_message WHERE session_id = sid;
    new_head := st.head + st.message_count;
    PERFORM gfs_search_add_messages(sid, ctx, 0, new_len, new_head);
  END IF;
  -- One update of the state row at most (none when only the task moved on).
  IF st.fields IS DISTINCT FROM new_fields THEN
    UPDATE gfs_search_session
    SET head = new_head, message_count = new_len, fields = new_fields,
        doc = gfs_search_fields_doc(graph, task, status, ctx -> 'data')
    WHERE session_id = sid;
  ELSIF new_head <> st.head OR new_len <> st.message_count THEN
    UPDATE gfs_search_session SET head = new_head, message_count = new_len
    WHERE session_id = sid;
  END IF;
END $$""",
    # For the index command: index one row (read under its row lock); verify: check the
    # fingerprints and fields against the row, and rebuild when they differ. Returns 1 when
    # it wrote anything.
    r"""
CREATE OR REPLACE FUNCTION gfs_search_index_row(
  sid text, graph text, task text, status text, ctx jsonb, verify boolean
) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  msgs jsonb;
  st gfs_search_session%ROWTYPE;
  stored uuid[];
  wanted uuid[];
BEGIN
  SELECT * INTO st FROM gfs_search_session WHERE session_id = sid;
  IF NOT FOUND THEN
    PERFORM gfs_search_apply(sid, graph, task, status, ctx #> '{}', true);
    RETURN 1;
  END IF;
  IF NOT verify THEN
    RETURN 0;
  END IF;
  msgs := gfs_search_history(ctx);
  SELECT coalesce(array_agg(fingerprint ORDER BY seq), '{}') INTO stored
  FROM gfs_search_message WHERE session_id = sid;
  SELECT coalesce(array_agg(md5(m::text)::uuid ORDER BY p), '{}') INTO wanted
  FROM jsonb_array_elements(msgs) WITH ORDINALITY AS x(m, p);
  IF stored = wanted AND st.message_count = cardinality(wanted)
     AND st.fields = gfs_search_fields_hash(graph, task, status, ctx -> 'data') THEN
    RETURN 0;
  END IF;
  UPDATE gfs_search_session SET fields = NULL WHERE session_id = sid;
  PERFORM gfs_search_apply(sid, graph, task, status, ctx #> '{}', true);
  RETURN 1;
END $$""",
    # AFTER INSERT and BEFORE UPDATE (see sql.search_triggers): before an update, NEW is the
    # row as the writer sent it, still in memory; after it, its context would be read back
    # from TOAST and decompressed, the biggest cost of a save of a long session. A changed
    # id is indexed as a new session; the old id's rows go at the next --verify.
    r"""
CREATE OR REPLACE FUNCTION gfs_search_on_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  sid text;
BEGIN
  -- The plan of NEW.id::text is kept for the connection with the id's type when first run:
  -- once a graph-flow 0.6 service converts the id column from uuid to text, it fails in
  -- every connection that saved before, and the id is then read by a dynamic statement
  -- (planned at each call, and copying the row: too dear for every save). The block costs a
  -- subtransaction without an XID, a tenth of either way of reading the id every time.
  BEGIN
    sid := NEW.id::text;
  EXCEPTION WHEN datatype_mismatch THEN
    EXECUTE 'SELECT ($1).id::text' INTO sid USING NEW;
  END;
  PERFORM gfs_search_apply(sid, NEW.graph_id, NEW.current_task_id, NEW.status_message,
                           NEW.context #> '{}', false);
  IF TG_WHEN = 'BEFORE' THEN
    RETURN NEW;
  END IF;
  RETURN NULL;
END $$""",
    # Once per DELETE statement, over its deleted rows (a prune batch is one statement each
    # way); dynamic for the id's type, as above.
    r"""
CREATE OR REPLACE FUNCTION gfs_search_on_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT FROM gfs_search_gone) THEN
    EXECUTE 'DELETE FROM gfs_search_message m USING gfs_search_gone g '
            'WHERE m.session_id = g.id::text';
    EXECUTE 'DELETE FROM gfs_search_session s USING gfs_search_gone g '
            'WHERE s.session_id = g.id::text';
  END IF;
  RETURN NULL;
END $$""",
    r"""
CREATE OR REPLACE FUNCTION gfs_search_on_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE gfs_search_message, gfs_search_session;
  RETURN NULL;
END $$""",
]

_TABLES = [
    # Room on each page: a save updates message_count and head, which then stays a HOT
    # update (no new GIN entries for the unchanged doc).
    """CREATE TABLE IF NOT EXISTS gfs_search_session (
    session_id text PRIMARY KEY,
    head bigint NOT NULL,
    message_count integer NOT NULL,
    fields uuid,
    doc tsvector NOT NULL
) WITH (fillfactor = 70)""",
    """CREATE TABLE IF NOT EXISTS gfs_search_message (
    session_id text NOT NULL,
    seq bigint NOT NULL,
    fingerprint uuid NOT NULL,
    doc tsvector NOT NULL,
    PRIMARY KEY (session_id, seq)
)""",
    """CREATE TABLE IF NOT EXISTS gfs_search_progress (
    name text PRIMARY KEY,
    last_id text,
    complete boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT NOW()
)""",
    # The searches themselves.
    "CREATE INDEX IF NOT EXISTS gfs_search_session_doc ON gfs_search_session USING gin (doc)",
    "CREATE INDEX IF NOT EXISTS gfs_search_message_doc ON gfs_search_message USING gin (doc)",
    # From a session of a uuid table to its rows (the text tables use the primary keys).
    "CREATE INDEX IF NOT EXISTS gfs_search_session_uuid "
    "ON gfs_search_session (gfs_search_uuid(session_id))",
    "CREATE INDEX IF NOT EXISTS gfs_search_message_uuid "
    "ON gfs_search_message (gfs_search_uuid(session_id))",
]

# Functions of the first release that are gone, or whose parameters were renamed (CREATE OR
# REPLACE cannot rename one): dropped before the functions are created again.
_FORMER = [
    "DROP FUNCTION IF EXISTS gfs_search_forget(text)",
    "DROP FUNCTION IF EXISTS gfs_search_add_messages(text, jsonb, integer, integer, bigint)",
]

_DROP = [
    "DROP TABLE IF EXISTS gfs_search_message, gfs_search_session, gfs_search_progress",
    *(
        f"DROP FUNCTION IF EXISTS {name} CASCADE"
        for name in (
            "gfs_search_on_truncate()",
            "gfs_search_on_delete()",
            "gfs_search_on_change()",
            "gfs_search_index_row(text, text, text, text, jsonb, boolean)",
            "gfs_search_forget(text)",
            "gfs_search_apply(text, text, text, text, jsonb, boolean)",
            "gfs_search_add_messages(text, jsonb, integer, integer, bigint)",
            "gfs_search_message_at(jsonb, integer)",
            "gfs_search_history(jsonb)",
            "gfs_search_fields_hash(text, text, text, jsonb)",
            "gfs_search_fields_doc(text, text, text, jsonb)",
            "gfs_search_tsquery(text, text)",
            "gfs_search_query_text(text)",
            "gfs_search_text(text)",
            "gfs_search_fold(text)",
            "gfs_search_uuid(text)",
        )
    ),
]

#: The progress row of the backfill.
BACKFILL = "backfill"

#: PostgreSQL 13 brought normalize(), which the folding needs.
MIN_POSTGRES = 130000


def install(connection: Any) -> None:
    """Create the side tables, functions and triggers (idempotent). On a table that already
    has rows the index is marked incomplete until ``graphflow_sessions_index`` has run."""
    if connection.pg_version < MIN_POSTGRES:
        raise RuntimeError(
            "The search index needs PostgreSQL 13 or later (it folds accents with "
            "normalize()). Set GRAPHFLOW_SESSIONS['SEARCH_INDEX'] = False to migrate "
            "without it; search then reads the newest sessions' contexts instead."
        )
    with connection.cursor() as cursor:
        cursor.execute(_FUNCTIONS[0])  # the uuid index below uses it
        for statement in _TABLES:
            cursor.execute(statement)
        for statement in [*_FORMER, *_FUNCTIONS[1:]]:
            cursor.execute(statement)
        for statement in sql.search_triggers(connection):
            cursor.execute(statement)
        cursor.execute(*sql.search_table_is_empty(connection))
        empty = bool(cursor.fetchone()[0])
        cursor.execute(
            "INSERT INTO gfs_search_progress (name, complete) VALUES (%s, %s) "
            "ON CONFLICT (name) DO NOTHING",
            [BACKFILL, empty],
        )


def reinstall(connection: Any) -> None:
    """Replace the functions and triggers of an installed index with this release's
    (migration 0006); nothing where the index is not installed."""
    if connection.vendor == "postgresql" and index_installed(connection.alias):
        install(connection)


def uninstall(connection: Any) -> None:
    """Drop the triggers, side tables and functions (the sessions table is untouched)."""
    with connection.cursor() as cursor:
        for statement in sql.drop_search_triggers(connection):
            cursor.execute(statement)
        for statement in _DROP:
            cursor.execute(statement)


def index_installed(using: str) -> bool:
    """Whether the side tables and the triggers on the sessions table exist in ``using``."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(*sql.search_triggers_installed(connection))
        return bool(cursor.fetchone()[0])


def progress(using: str) -> tuple[str | None, bool] | None:
    """The backfill's last id and whether it finished; None without the index."""
    if not index_installed(using):
        return None
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT last_id, complete FROM gfs_search_progress WHERE name = %s", [BACKFILL]
        )
        row = cursor.fetchone()
    return (None, False) if row is None else (row[0], bool(row[1]))


def mark_progress(cursor: Any, last_id: str | None, complete: bool) -> None:
    cursor.execute(
        "INSERT INTO gfs_search_progress (name, last_id, complete, updated_at) "
        "VALUES (%s, %s, %s, NOW()) ON CONFLICT (name) DO UPDATE SET "
        "last_id = EXCLUDED.last_id, complete = EXCLUDED.complete, updated_at = NOW()",
        [BACKFILL, last_id, complete],
    )


def index_complete(using: str) -> bool:
    """Whether every session is indexed: the index is installed and its backfill finished
    (rows written since the triggers exist are indexed by them)."""
    state = progress(using)
    return state is not None and state[1]


#: A term whose rarest word is in at least this share of the message rows (by the planner's
#: statistics) is checked per session while the list is walked in its own order; rarer ones
#: start from the GIN index. Either way the first page costs about the same.
COMMON_SHARE = 0.005

# The quoted lexemes of a tsquery's text, each with ``:*`` when it is a prefix.
_LEXEMES = r"'((?:[^']|'')+)'(:\*)?"


@dataclass(frozen=True)
class CompiledTerm:
    #: The term as a tsquery's text.
    tsquery: str
    #: The share of message rows holding its rarest word (0 when the statistics do not list
    #: it among the most common).
    share: float
    #: What the GIN indexes are asked for the term: its words that the statistics do not call
    #: common, all of them required (``tsquery`` itself for a word or a prefix). A phrase's
    #: common words would make the index read their whole posting lists, to learn what the
    #: rare ones already narrow down to a few rows, which are then checked against the
    #: whole term. None when every word is common.
    lookup: str | None


def compile_terms(connection: Any, query: SearchQuery) -> list[CompiledTerm]:
    """Each term of ``query`` as a tsquery, built by the database's own parser, with how
    common it is; terms with nothing to search for (punctuation only) are left out."""
    if not query.terms:
        return []
    kinds = {TermKind.WORD: "word", TermKind.PREFIX: "prefix", TermKind.PHRASE: "phrase"}
    values = ", ".join(["(%s::text, %s::text, %s::int)"] * len(query.terms))
    params: list[Any] = []
    for n, term in enumerate(query.terms):
        params.extend([kinds[term.kind], term.text, n])
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH stats AS (SELECT most_common_elems::text::text[] AS elems, "
            "most_common_elem_freqs AS freqs FROM pg_stats "
            "WHERE tablename = 'gfs_search_message' AND attname = 'doc' "
            "AND schemaname = current_schema()), "
            f"terms AS (SELECT n, gfs_search_tsquery(kind, words) AS q FROM (VALUES {values}) "
            "AS t(kind, words, n)) "
            "SELECT t.q::text, coalesce(min(l.share), 0), "
            # The word as the tsquery's text quotes it (its quotes already doubled).
            "string_agg('''' || l.word || '''' || coalesce(l.prefix, ''), ' & ') "
            "FILTER (WHERE l.share < %s) "
            "FROM terms AS t LEFT JOIN LATERAL ("
            " SELECT m.lexeme[1] AS word, m.lexeme[2] AS prefix, coalesce(("
            # unnest, not subscripts: each subscript of a text array walks it from the start.
            "  SELECT max(e.freq) FROM stats, unnest(stats.elems, stats.freqs) AS e(elem, freq)"
            "  WHERE e.elem = m.lexeme[1] OR (m.lexeme[2] IS NOT NULL"
            "  AND starts_with(e.elem, m.lexeme[1]))), 0) AS share"
            " FROM regexp_matches(t.q::text, %s, 'g') AS m(lexeme)) AS l ON true "
            "GROUP BY t.n, t.q::text ORDER BY t.n",
            [*params, COMMON_SHARE, _LEXEMES],
        )
        compiled = [
            CompiledTerm(str(text), float(share), None if lookup is None else str(lookup))
            for text, share, lookup in cursor.fetchall()
        ]
    return [term for term in compiled if term.tsquery]


def _matching_ids(uuid_ids: bool, term: CompiledTerm) -> RawSQL:
    # Both tables' ids, as the sessions table's type, for the planner to start from the GIN
    # indexes and look the sessions up by their primary key. ts_match_vq is the @@ operator
    # written as a function, which no index serves: the rows the lookup found are checked.
    key = "gfs_search_uuid(session_id)" if uuid_ids else "session_id"
    lookup = term.lookup or term.tsquery
    if lookup == term.tsquery:
        match, params = "doc @@ %s::tsquery", [lookup]
    else:
        match = "doc @@ %s::tsquery AND ts_match_vq(doc, %s::tsquery)"
        params = [lookup, term.tsquery]
    return RawSQL(
        f"SELECT {key} FROM gfs_search_message WHERE {match} "
        f"UNION ALL SELECT {key} FROM gfs_search_session WHERE {match}",
        [*params, *params],
    )


class TermMatches(Func):
    """True when the session (its ``pk``) has a message or fields matching ``tsquery``: a
    check per session, through the side tables' keys, for a list walked in its own order."""

    output_field = BooleanField()

    def __init__(self, tsquery: str, *, uuid_ids: bool) -> None:
        super().__init__(F("pk"))
        self.tsquery = tsquery
        self.uuid_ids = uuid_ids

    def as_sql(self, compiler: Any, connection: Any, *args: Any, **extra: Any) -> Any:
        pk_sql, pk_params = compiler.compile(self.source_expressions[0])
        key = "gfs_search_uuid({}.session_id)" if self.uuid_ids else "{}.session_id"
        # OFFSET 0 keeps each EXISTS a check of this session: without it PostgreSQL may
        # answer one by hashing every matching row of the side table first (all of them
        # for a common word), expecting to be asked for most of the list.
        sql = (
            f"(EXISTS (SELECT 1 FROM gfs_search_message m WHERE {key.format('m')} = {pk_sql} "
            "AND m.doc @@ %s::tsquery OFFSET 0) OR EXISTS (SELECT 1 FROM gfs_search_session g "
            f"WHERE {key.format('g')} = {pk_sql} AND g.doc @@ %s::tsquery OFFSET 0))"
        )
        return sql, [*pk_params, self.tsquery, *pk_params, self.tsquery]


@dataclass(frozen=True)
class IndexMatches:
    queryset: QuerySet[Any]
    #: True when the matches are a set read from the GIN indexes first (the rarest term is
    #: rare); False when the list is walked in its own order and each session checked.
    from_index: bool


def filter_sessions(queryset: QuerySet[Any], query: SearchQuery) -> IndexMatches:
    """``queryset`` restricted to the sessions where every term of ``query`` matches: in one
    message (a phrase's words in order within that message) or in the session's graph, task,
    status or data. Filters and ordering are the queryset's own. A query whose terms hold
    nothing searchable matches nothing.

    The rarest term, when it is rare, is looked up in the GIN indexes; the other terms (all
    of them when none is rare) are checked per session, of that set or of the list walked in
    its own order: a common word's first page is then as quick as a rare one's.
    """
    if not query:
        return IndexMatches(queryset, from_index=False)
    connection = connections[queryset.db]
    compiled = compile_terms(connection, query)
    if not compiled:
        return IndexMatches(queryset.none(), from_index=True)
    # The id type is read afresh: the queryset runs later, out of reach of the storage's
    # retry, and a graph-flow 0.6 service may have converted the column meanwhile.
    uuid_ids = flavour_of(connection, fresh=True) is Flavour.UUID_IDS
    rarest = min(compiled, key=lambda term: term.share)
    from_index = rarest.share < COMMON_SHARE
    for term in compiled:
        if term is rarest and from_index:
            queryset = queryset.filter(pk__in=_matching_ids(uuid_ids, term))
        else:
            queryset = queryset.filter(TermMatches(term.tsquery, uuid_ids=uuid_ids))
    return IndexMatches(queryset, from_index=from_index)


def message_positions(using: str, session_id: Any, query: SearchQuery) -> list[int]:
    """The 0-based positions, in the session's current history, of the messages that match
    at least one term of ``query`` (what a page marks), ascending."""
    connection = connections[using]
    compiled = compile_terms(connection, query)
    if not compiled:
        return []
    either = " || ".join(["%s::tsquery"] * len(compiled))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT m.seq - s.head FROM gfs_search_message m "
            "JOIN gfs_search_session s ON s.session_id = m.session_id "
            f"WHERE m.session_id = %s AND m.doc @@ ({either}) ORDER BY m.seq",
            [str(session_id), *(term.tsquery for term in compiled)],
        )
        return [int(row[0]) for row in cursor.fetchall()]


@dataclass(frozen=True)
class Batch:
    #: Rows read, the last id read (None past the end), rows locked, rows (re)indexed.
    scanned: int
    last_id: str | None
    locked: int
    indexed: int
    seconds: float


#: A batch of the index command reads at most this many bytes of stored context (besides
#: its first row): about a quarter of a second of tokenizing on a small server.
BATCH_BYTES = 256 * 1024


def index_batch(
    using: str, after: str | None, size: int, *, verify: bool, max_bytes: int = BATCH_BYTES
) -> Batch:
    """Index (``verify``: check and repair) the next sessions after id ``after``, at most
    ``size`` of them and about ``max_bytes`` of stored context, in one short transaction that
    also records how far the backfill got (unless verifying)."""
    connection = connections[using]
    started = time.perf_counter()
    statement = sql.search_backfill_batch(connection, after=after is not None, verify=verify)
    params: list[Any] = [after] if after is not None else []
    params += [size, max_bytes]
    with transaction.atomic(using=using), connection.cursor() as cursor:
        cursor.execute(statement, params)
        scanned, last_id, locked, indexed = cursor.fetchone()
        if not verify and last_id is not None and locked == scanned:
            mark_progress(cursor, str(last_id), False)
    return Batch(
        int(scanned),
        None if last_id is None else str(last_id),
        int(locked),
        int(indexed),
        time.perf_counter() - started,
    )


def unindexed_count(using: str) -> int:
    with connections[using].cursor() as cursor:
        cursor.execute(*sql.search_unindexed_count(connections[using]))
        return int(cursor.fetchone()[0])


def delete_orphans(using: str) -> int:
    """Drop index rows of sessions that are gone; their count."""
    connection = connections[using]
    with transaction.atomic(using=using), connection.cursor() as cursor:
        cursor.execute(sql.search_orphans_delete(connection))
        return int(cursor.fetchone()[0])
