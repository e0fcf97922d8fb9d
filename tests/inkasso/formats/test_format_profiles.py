"""Agency profiles: every agency loads, names its files, and uses layouts with the kind's columns."""

from __future__ import annotations

from datetime import datetime

import pytest

from inkasso.formats import KIND_COLUMNS, list_layouts, list_profiles, load_layout, load_profile

AGENCIES = ["credicare", "creno", "intrum", "kredithanterarna", "lowell", "preventia", "svea"]
WHEN = datetime(2026, 11, 22, 5, 30, 0)


def test_all_seven_agencies_have_a_profile():
    assert list_profiles() == AGENCIES


@pytest.mark.parametrize("agency", AGENCIES)
def test_profile_uses_existing_layouts_with_the_required_columns(agency):
    profile = load_profile(agency)
    assert set(profile.files) == set(KIND_COLUMNS)
    for kind, spec in profile.files.items():
        assert spec.layout in list_layouts()
        layout = load_layout(spec.layout)
        assert layout.encoding == profile.encoding
        assert spec.direction == ("out" if kind in ("new_cases", "corrections") else "in")
        for column in KIND_COLUMNS[kind]["detail"]:
            assert column in layout.fields("detail"), (kind, column)
        for column in KIND_COLUMNS[kind]["header"]:
            assert column in layout.header.field_names
        for column in KIND_COLUMNS[kind]["trailer"]:
            assert column in layout.trailer.field_names
    assert set(profile.closure_statuses.values()) == {
        "paid", "partly_paid", "closed", "recalled", "uncollectible",
    }  # fmt: skip
    assert profile.remote.upload_dir and profile.remote.outbox_dir


@pytest.mark.parametrize("agency", AGENCIES)
def test_outgoing_names_are_unique_per_second_and_incoming_names_match(agency):
    profile = load_profile(agency)
    for kind in ("new_cases", "corrections"):
        spec = profile.file(kind)
        name = spec.file_name("400123", WHEN)
        assert "400123" in name
        assert spec.matches(name, "400123")
        assert not spec.matches(name, "400124")
    for kind in ("receipt", "closure"):
        name = profile.file(kind).file_name("400123", WHEN)
        assert profile.incoming_kind(name, "400123") == kind
        assert profile.incoming_kind(name, "999") is None
        assert profile.incoming_kind(name + ".part", "400123") is None


def test_lowell_naming():
    lowell = load_profile("lowell")
    assert lowell.file("new_cases").file_name("400123", WHEN) == "LS40012320261122053000.txt"
    assert lowell.file("corrections").file_name("400123", WHEN) == "RD40012320261122053000.txt"
    receipt = lowell.file("receipt")
    assert receipt.matches("Kvitt_400123_20261123061502.txt", "400123")
    assert receipt.when("Kvitt_400123_20261123061502.txt", "400123") == datetime(
        2026, 11, 23, 6, 15, 2
    )
    assert not receipt.matches("Kvitt_400123_20261399061502.txt", "400123")  # no 13th month
    assert lowell.incoming_kind("Avsl_400123_20261201000000.txt", "400123") == "closure"
    assert lowell.incoming_kind("LS40012320261122053000.txt", "400123") is None


def test_modes():
    assert load_profile("intrum").modes == ("manual",)
    assert load_profile("credicare").modes == ("sftp", "manual")
    for agency in ("lowell", "creno", "kredithanterarna", "svea", "preventia"):
        assert load_profile(agency).modes == ("sftp",)


def test_closure_status_codes_map():
    lowell = load_profile("lowell")
    assert lowell.closure_status("BET") == "paid"
    with pytest.raises(KeyError, match="unknown closure status"):
        lowell.closure_status("XYZ")


@pytest.mark.parametrize("name", list_layouts())
def test_every_layout_loads(name):
    layout = load_layout(name)
    assert layout.detail_types
