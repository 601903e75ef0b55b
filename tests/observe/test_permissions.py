"""The permission table: roles, scope levels and the checks every route relies on."""

from __future__ import annotations

import pytest

from pollwatch.errors import Forbidden
from pollwatch.observe.permissions import (
    PERMISSIONS,
    ROLES,
    Place,
    Principal,
    Rule,
    Scope,
    can,
    covers,
    require,
    whole_election,
)

ADMIN = Principal("admin")
SERBIA = Principal("coordinator", (Scope("e1", country="RS"),))
WHOLE = Principal("coordinator", (Scope("e1"),))
VIEWER = Principal("viewer", (Scope("e1"),))
NOBODY = Principal("coordinator")
IN_RS = Place("8101", country="RS", region="Beograd")
IN_DE = Place("8201", country="DE", region="Berlin")


def test_admin_may_do_everything_everywhere() -> None:
    for action in PERMISSIONS:
        assert can(ADMIN, action, "any-election", IN_DE)


def test_nobody_logged_in_may_do_nothing() -> None:
    for action in PERMISSIONS:
        assert not can(None, action, "e1", IN_RS)


def test_viewer_reads_but_changes_nothing() -> None:
    assert can(VIEWER, "dashboard.read", "e1")
    assert can(VIEWER, "stations.read", "e1", IN_RS)
    writes = ("conflicts.resolve", "invites.create", "election.settings", "coordinators.manage")
    for action in writes:
        assert not can(VIEWER, action, "e1", IN_RS)
    with pytest.raises(Forbidden, match="viewer"):
        require(VIEWER, "conflicts.resolve", "e1", IN_RS)


def test_coordinator_is_held_to_the_elections_and_places_of_their_scopes() -> None:
    assert can(SERBIA, "conflicts.resolve", "e1", IN_RS)
    assert not can(SERBIA, "conflicts.resolve", "e1", IN_DE)
    assert not can(SERBIA, "conflicts.resolve", "e2", IN_RS)
    assert can(SERBIA, "dashboard.read", "e1")  # the page lists only covered stations
    assert not can(SERBIA, "dashboard.read", "e2")
    assert can(WHOLE, "conflicts.resolve", "e1", IN_DE)
    assert not can(SERBIA, "election.settings", "e1")
    assert not can(SERBIA, "coordinators.manage")
    with pytest.raises(Forbidden, match="outside your scope"):
        require(SERBIA, "stations.read", "e1", IN_DE)


def test_a_coordinator_without_scopes_sees_no_election() -> None:
    assert can(NOBODY, "elections.list")  # the list itself is empty, see visible elections
    assert not can(NOBODY, "dashboard.read", "e1")
    assert not can(NOBODY, "stations.read", "e1", IN_RS)


def test_unknown_place_stays_outside_a_narrowed_scope() -> None:
    unknown = Place("9999")
    assert not covers(SERBIA, "e1", unknown)
    assert covers(WHOLE, "e1", unknown)
    region = Principal("viewer", (Scope("e1", country="RS", region="Beograd"),))
    assert covers(region, "e1", IN_RS)
    assert not covers(region, "e1", Place("8102", country="RS", region="Niš"))
    assert whole_election(WHOLE, "e1") and not whole_election(SERBIA, "e1")
    assert whole_election(ADMIN, "e1")


def test_misuse_fails_loudly() -> None:
    with pytest.raises(KeyError, match="no permission rule"):
        can(ADMIN, "stations.delete")
    with pytest.raises(ValueError, match="needs the election"):
        can(SERBIA, "dashboard.read")
    with pytest.raises(ValueError, match="needs the station"):
        can(SERBIA, "stations.read", "e1")
    with pytest.raises(ValueError, match="include admin"):
        Rule(("viewer",), "global", "x")
    with pytest.raises(ValueError):
        Rule(("admin", "superuser"), "global", "x")


def test_every_rule_uses_known_roles_and_admin() -> None:
    for rule in PERMISSIONS.values():
        assert "admin" in rule.roles and set(rule.roles) <= set(ROLES)
