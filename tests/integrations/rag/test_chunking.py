"""Markdown sections become overlapping, citable passages."""

import itertools

from integrations.rag.chunking import chunk_documents, chunk_section, split_sections

DOC = """# Guide

## First topic

One two three four five. Six seven eight nine ten. Eleven twelve thirteen fourteen fifteen.
Sixteen seventeen eighteen nineteen twenty.

## Second topic

Short body here.
"""


def test_sections_are_split_on_level_two_headings_with_stable_ids():
    sections = split_sections("guide", DOC)
    assert [s[0] for s in sections] == ["guide#first-topic", "guide#second-topic"]
    assert sections[0][1] == "Guide: First topic"


def test_long_sections_become_chunks_that_repeat_the_previous_chunks_last_sentence():
    section_id, title, body = split_sections("guide", DOC)[0]
    chunks = chunk_section(section_id, title, body, chunk_words=10, overlap_words=5)
    assert len(chunks) > 1
    for before, after in itertools.pairwise(chunks):
        last_sentence = before.text.split(". ")[-1]
        assert after.text.startswith(last_sentence.rstrip("."))
    assert [c.id for c in chunks][:2] == [f"{section_id}:0", f"{section_id}:1"]


def test_every_sentence_of_the_document_lands_in_some_chunk():
    chunks = chunk_documents({"guide": DOC}, chunk_words=10, overlap_words=5)
    joined = " ".join(c.text for c in chunks)
    for word in ("One", "twenty", "Short body here"):
        assert word in joined
