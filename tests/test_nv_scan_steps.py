"""The steps of the NV step scan (clients/nv_scan.py): which motors a pixel moves."""

from nanomri.clients.nv_scan import moved


def test_within_a_line_only_the_fast_axis_moves():
    assert moved((1.0, 2.0, 3.5), (1.0, 2.0, 3.0)) == [None, None, 3.5]


def test_where_a_slower_axis_changes_every_axis_is_given():
    assert moved((1.0, 2.5, 3.0), (1.0, 2.0, 4.0)) == [1.0, 2.5, 3.0]
    assert moved((1.0, 2.0), (None, None)) == [1.0, 2.0]
