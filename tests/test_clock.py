import pytest

from models import Setting, db
from piratebox.clock import HUB_CORRECTION_THRESHOLD, Clock
from piratebox.database import open_existing

JAN_2026 = 1_767_225_600.0


class FakeTime:
    """The system clock and the monotonic clock of a box, moved by hand."""

    def __init__(self, wall, mono=1000.0):
        self.wall, self.mono = wall, mono

    def advance(self, seconds):
        self.wall += seconds
        self.mono += seconds


@pytest.fixture
def opened(data_dir):
    open_existing(data_dir)
    with db.connection_context():
        yield


def clock_at(fake):
    return Clock.load(system_time=lambda: fake.wall, monotonic=lambda: fake.mono)


def test_time_never_goes_back_across_a_restart_that_says_1970(opened):
    fake = FakeTime(JAN_2026)
    clock = clock_at(fake)
    clock.remember(force=True)
    fake.advance(3600)
    clock.remember()

    after_power_cut = FakeTime(wall=0.0, mono=5.0)  # no RTC: the system says 1970
    restarted = clock_at(after_power_cut)
    assert restarted.is_doubtful()
    assert restarted.now() >= JAN_2026 + 3600
    after_power_cut.advance(30)
    assert restarted.now() >= JAN_2026 + 3630  # and it keeps moving


def test_the_floor_is_written_at_most_once_a_minute(opened):
    fake = FakeTime(JAN_2026)
    clock = clock_at(fake)
    clock.remember(force=True)
    fake.advance(10)
    clock.remember()
    assert float(Setting.get_value("clock_floor")) == JAN_2026
    fake.advance(60)
    clock.remember()
    assert float(Setting.get_value("clock_floor")) == JAN_2026 + 70


def test_the_mediator_corrects_the_clock_and_it_holds_after_restart(opened):
    fake = FakeTime(wall=86400.0)  # 2 January 1970
    clock = clock_at(fake)
    delta = clock.correct(JAN_2026, "admin")
    assert delta == pytest.approx(JAN_2026 - 86400.0)
    assert clock.now() == pytest.approx(JAN_2026)
    assert not clock.is_doubtful()
    fake.advance(5)
    restarted = clock_at(fake)
    assert restarted.now() == pytest.approx(JAN_2026 + 5)
    assert restarted.last_correction["by"] == "admin"


def test_the_hub_only_moves_a_clock_that_is_clearly_behind(opened):
    fake = FakeTime(JAN_2026)
    clock = clock_at(fake)
    assert clock.correct(JAN_2026 + HUB_CORRECTION_THRESHOLD / 2, "hub", only_forward=True) == 0
    assert clock.correct(JAN_2026 - 3600, "hub", only_forward=True) == 0
    assert clock.now() == pytest.approx(JAN_2026)
    assert clock.correct(JAN_2026 + 86400, "hub", only_forward=True) == pytest.approx(86400)
    assert clock.now() == pytest.approx(JAN_2026 + 86400)


def test_a_running_server_follows_a_correction_made_by_the_sync_command(opened):
    fake = FakeTime(JAN_2026)
    server = clock_at(fake)  # the serving process's clock
    hub_time = JAN_2026 + 2 * 86400  # the box was two days behind
    sync_process = clock_at(fake)
    assert sync_process.correct(hub_time, "hub", only_forward=True) > 0
    assert server.now() < hub_time  # not yet: it looks once a minute
    assert not server.follow()
    fake.advance(61)
    assert server.follow()
    assert server.now() == pytest.approx(hub_time + 61)
    assert server.last_correction["by"] == "hub"
    fake.advance(61)
    assert not server.follow()  # nothing new since


@pytest.mark.parametrize("force", [True, False])
def test_a_server_saving_its_floor_keeps_a_correction_the_sync_command_just_made(opened, force):
    """The server saves its floor (its first page gone out, or a minute after a write)
    before it has looked for corrections again: it takes the sync command's first."""
    fake = FakeTime(JAN_2026)
    server = clock_at(fake)
    server.remember(force=True)
    hub_time = JAN_2026 + 2 * 86400
    fake.advance(30)
    assert clock_at(fake).correct(hub_time, "hub", only_forward=True) > 0
    fake.advance(40)  # within the minute the server follows at most once
    server.remember(force=force)
    assert float(Setting.get_value("clock_floor")) == pytest.approx(hub_time + 40)
    assert server.now() == pytest.approx(hub_time + 40)

    after_power_cut = FakeTime(wall=0.0, mono=5.0)
    assert clock_at(after_power_cut).now() >= hub_time + 40
