"""A multipart form's boundary found without compiling it (piratebox/multipart.py): the
same matches as Werkzeug's own expressions, the same forms decoded, and the app's uploads
parsed with it."""

import io
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug import formparser
from werkzeug.datastructures import FileStorage
from werkzeug.sansio.multipart import LINE_BREAK, MultipartDecoder, NeedData
from werkzeug.test import stream_encode_multipart

from models import SharedFile
from piratebox import multipart
from tests.conftest import csrf_from

# what RFC 2046 lets a boundary hold, regular expressions' special characters among them
BOUNDARY_CHARACTERS = "abcXYZ019'()+_,-./:=? "
boundaries = st.text(BOUNDARY_CHARACTERS, min_size=1, max_size=20).map(
    lambda text: (text.rstrip() or "b").encode())


def werkzeug_expression(boundary, line_break_required):
    """The expression Werkzeug compiles for a boundary (the same in 2.2 and 3.1)."""
    before = LINE_BREAK if line_break_required else LINE_BREAK + b"?"
    return re.compile(rb"%s--%s(--[^\S\n\r]*%s?|[^\S\n\r]*%s)"
                      % (before, re.escape(boundary), LINE_BREAK, LINE_BREAK), re.MULTILINE)


def pieces_around(boundary):
    """What makes a delimiter, a near miss or a line break, to build bodies from."""
    return st.sampled_from([b"\r", b"\n", b"\r\n", b"-", b"--", b" ", b"\t", b"\x0b", b"x",
                            boundary, boundary[:-1], b"--" + boundary, b"\r\n--" + boundary])


@st.composite
def searches(draw):
    boundary = draw(boundaries)
    data = b"".join(draw(st.lists(pieces_around(boundary), max_size=30)))
    return boundary, data, draw(st.integers(0, len(data)))


@settings(max_examples=1500, deadline=None)
@given(searches(), st.booleans(), st.booleans())
def test_a_delimiter_finds_what_werkzeugs_expression_finds(search, line_break_required,
                                                          as_bytearray):
    boundary, data, position = search
    data = bytearray(data) if as_bytearray else data
    expected = werkzeug_expression(boundary, line_break_required).search(data, position)
    found = multipart.Delimiter(boundary, line_break_required).search(data, position)
    if expected is None:
        assert found is None
    else:
        assert found is not None
        assert (found.start(), found.end(), found.group(1)) == \
            (expected.start(), expected.end(), expected.group(1))


def test_a_delimiter_is_found_from_the_position_given_and_its_line_break_with_it():
    required = multipart.Delimiter(b"b", line_break_required=True)
    found = required.search(b"x\r\n--b\r\ny")
    assert (found.start(), found.end(), found.group(1)) == (1, 8, b"\r\n")
    assert required.search(b"x\r\n--b\r\ny", 3) is None  # its line break is before 3
    optional = multipart.Delimiter(b"b", line_break_required=False)
    assert optional.search(b"x\r\n--b\r\ny", 3).start() == 3
    assert optional.search(b"--b--").group(1) == b"--"
    assert required.search(b"\n--b x") is None  # a delimiter is followed by a line break


def events(decoder, body, chunk):
    """Every event a decoder gives for `body` received `chunk` bytes at a time, or the
    error it stops with."""
    found = []
    try:
        for start in [*range(0, len(body), chunk), None]:
            decoder.receive_data(None if start is None else body[start:start + chunk])
            event = decoder.next_event()
            while not isinstance(event, NeedData):
                found.append(event)
                if type(event).__name__ == "Epilogue":
                    return found
                event = decoder.next_event()
    except ValueError as error:
        found.append(("refused", str(error)))
    return found


@st.composite
def forms(draw):
    """A form as browsers and clumsy clients write it, its line breaks and its
    delimiters' spaces varied, its parts' content built from delimiter-like pieces."""
    boundary = draw(boundaries)
    line = draw(st.sampled_from([b"\r\n", b"\n", b"\r"]))
    body = draw(st.sampled_from([b"", b"preamble" + line]))
    for number in range(draw(st.integers(0, 3))):
        body += b"--" + boundary + draw(st.sampled_from([b"", b" ", b"\t "])) + line
        filename = b'; filename="f.bin"' if draw(st.booleans()) else b""
        body += b'Content-Disposition: form-data; name="p%d"%s' % (number, filename) + line
        body += line + b"".join(draw(st.lists(pieces_around(boundary), max_size=12))) + line
    body += b"--" + boundary + draw(st.sampled_from([b"--", b"-- ", b"--\r\n", b""]))
    return boundary, body + draw(st.sampled_from([b"", line, b"epilogue"]))


@settings(max_examples=600, deadline=None)
@given(forms(), st.integers(1, 64))
def test_a_form_is_decoded_as_werkzeugs_decoder_decodes_it(form, chunk):
    boundary, body = form
    assert events(multipart.Decoder(boundary, None), body, chunk) == \
        events(MultipartDecoder(boundary, None), body, chunk)


def test_only_a_decoder_that_keeps_its_boundary_where_it_is_replaced_is_replaced(monkeypatch):
    assert multipart.holds_the_boundary(MultipartDecoder) == multipart.REPLACED

    class KeepsMore(MultipartDecoder):
        def __init__(self, boundary, *args, **kwargs):
            super().__init__(boundary, *args, **kwargs)
            self.delimiter = b"--" + boundary

    monkeypatch.setattr(multipart.multipart, "MultipartDecoder", KeepsMore)
    monkeypatch.setattr(formparser, "MultipartDecoder", KeepsMore)
    multipart.install()
    assert formparser.MultipartDecoder is KeepsMore


def test_an_upload_compiles_no_expression_for_its_boundary(app, client, monkeypatch):
    assert formparser.MultipartDecoder is multipart.Decoder
    compiled = []
    compile_expression = re.compile

    def noting(pattern, flags=0):
        compiled.append(pattern)
        return compile_expression(pattern, flags)

    monkeypatch.setattr(re, "compile", noting)
    token = csrf_from(client.get("/files/").get_data(as_text=True))
    content = b"\r\n--x\r\n a line that looks like a delimiter"
    fields = {"csrf_token": token, "folder": "Photos",
              "files": FileStorage(io.BytesIO(content), filename="a.txt")}
    stream, length, boundary = stream_encode_multipart(fields, use_tempfile=False)
    answer = client.post("/files/", input_stream=stream, content_length=length,
                         content_type=f"multipart/form-data; boundary={boundary}")
    assert answer.status_code == 303
    with app.app_context():
        shared = SharedFile.get()
    assert (shared.name, shared.folder, shared.size) == ("a.txt", "Photos", len(content))
    assert not [pattern for pattern in compiled
                if boundary.encode() in (pattern.encode() if isinstance(pattern, str) else pattern)]


@pytest.mark.parametrize("body", [b"--b\r\nno blank line", b"no delimiter at all"])
def test_a_broken_form_is_refused_as_werkzeug_refuses_it(body):
    assert events(multipart.Decoder(b"b", None), body, 7) == \
        events(MultipartDecoder(b"b", None), body, 7)
    assert events(multipart.Decoder(b"b", None), body, 7)[-1][0] == "refused"
