"""The check-in state machine with a fake clock: no camera, no models, no sleeping."""
from checks.base import CheckResult, Status
from models.perception import Framing
from station.session import CheckInSession, Phase, SessionTiming

GOOD = Framing(True, 1)
FEET_OUT = Framing(False, 1, "请后退，让双脚进入画面", "Step back so your feet are in view", ("feet_out_of_view",))
NOBODY = Framing(False, 0, "请站到摄像头前", "Please stand in front of the camera", ("no_person",))
MOVING = Framing(True, 1, "请保持不动", "Hold still", ("moving",))


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def results(badge=Status.PASS):
    return {"badge": CheckResult("badge", badge, 0.9, "z", "e"), "footwear": CheckResult("footwear", Status.PASS,
                                                                                         0.8, "z", "e")}


def session(**timing):
    clock, verdicts = Clock(), []
    s = CheckInSession(SessionTiming(frames_needed=3, **timing), verdicts.append, clock)
    return s, clock, verdicts


def test_full_session_identified_first():
    s, clock, verdicts = session()
    assert s.view().phase == Phase.IDLE and "QR" in s.view().message_en
    assert s.identify("T1024", "qr") and s.phase == Phase.FRAMING
    s.on_frame(FEET_OUT, results())
    assert s.phase == Phase.FRAMING and s.view().message_en == "Step back so your feet are in view"
    for _ in range(3):
        s.on_frame(GOOD, results())
    assert s.phase == Phase.VERDICT and len(verdicts) == 1
    v = verdicts[0]
    assert (v.technician, v.overall, v.frames, v.identified_by) == ("T1024", "pass", 3, "qr")
    assert s.view().message_en == "PASS"
    s.on_frame(GOOD, results(Status.FAIL))  # frames during the verdict change nothing
    assert len(verdicts) == 1 and not s.identify("T9999")
    clock.t += 8
    s.tick()
    assert s.phase == Phase.COOLDOWN
    clock.t += 3
    s.tick()
    assert s.phase == Phase.IDLE and s.technician is None and s.verdict is None


def test_identified_during_framing_and_waits_for_the_id():
    s, clock, verdicts = session()
    s.on_frame(GOOD, results(Status.FAIL))
    assert s.phase == Phase.COLLECTING
    for _ in range(4):
        s.on_frame(GOOD, results(Status.FAIL))
    assert s.phase == Phase.COLLECTING and not verdicts and "enter your number" in s.view().message_en
    s.identify("T7", "roster")
    assert s.phase == Phase.VERDICT and verdicts[0].overall == "fail" and verdicts[0].frames == 3


def test_stepping_out_restarts_the_frames_and_nobody_ends_the_session():
    s, clock, verdicts = session()
    s.identify("T1")
    s.on_frame(GOOD, results())
    s.on_frame(GOOD, results())
    s.on_frame(FEET_OUT, results())
    assert s.phase == Phase.FRAMING and s.frames == []
    clock.t += 6
    s.on_frame(NOBODY, {})
    s.tick()
    assert s.phase == Phase.IDLE and s.technician is None and not verdicts


def test_frames_taken_in_motion_are_not_collected_and_do_not_restart_the_count():
    s, clock, verdicts = session()
    s.identify("T1")
    s.on_frame(MOVING, results(Status.FAIL))  # walking up: shown, not judged
    assert s.phase == Phase.FRAMING and s.frames == [] and s.view().message_en == "Hold still"
    s.on_frame(GOOD, results())
    s.on_frame(GOOD, results())
    s.on_frame(MOVING, results(Status.FAIL))  # a blurred frame among sharp ones
    assert s.phase == Phase.COLLECTING and len(s.frames) == 2 and s.view().message_en == "Hold still"
    s.on_frame(GOOD, results())
    assert verdicts[0].overall == "pass" and verdicts[0].frames == 3


def test_stuck_guidance_records_an_unknown_check_in_and_asks_for_the_supervisor():
    s, clock, verdicts = session(give_up_s=30)
    s.identify("T1")
    for _ in range(10):
        clock.t += 4
        s.on_frame(FEET_OUT, results())  # someone is there, but never in frame
        s.tick()
    # not a silent reset: one unknown record that says where it was stuck, and the kiosk sends for the supervisor
    assert len(verdicts) == 1 and s.phase in (Phase.VERDICT, Phase.COOLDOWN, Phase.IDLE)
    v = verdicts[0]
    assert (v.technician, v.overall, v.stuck) == ("T1", "unknown", True)
    assert "Step back so your feet are in view" in v.note and "请后退" in v.note
    assert v.to_dict()["note"] == v.note
    s2, clock2, _ = session(give_up_s=30)
    s2.identify("T1")
    s2.on_frame(FEET_OUT, results())
    clock2.t += 31
    s2.on_frame(FEET_OUT, results())
    s2.tick()
    view = s2.view()
    assert view.message_en == "Please ask your supervisor" and view.message_zh == "请找主管协助"
    assert view.countdown is not None and view.countdown > 0


def test_a_typed_number_waits_for_the_next_session_a_short_time():
    s, clock, verdicts = session(nobody_s=5, keep_number_s=30)
    assert s.identify("T1024")  # typed before anyone stands in front of the camera
    clock.t += 6
    s.tick()  # nobody came: the session ends, the number is kept
    assert s.phase == Phase.IDLE and s.view().technician == "T1024"
    clock.t += 10
    s.on_frame(GOOD, results())  # the technician steps in within the limit
    assert s.technician == "T1024"
    for _ in range(3):
        s.on_frame(GOOD, results())
    assert verdicts and verdicts[0].technician == "T1024"
    s2, clock2, _ = session(nobody_s=5, keep_number_s=30)
    s2.identify("T7")
    clock2.t += 6
    s2.tick()
    clock2.t += 31  # too late: the next person is not taken for T7
    assert s2.view().technician is None
    s2.on_frame(GOOD, results())
    assert s2.technician is None


def test_blank_identity_is_refused():
    s, _, _ = session()
    assert not s.identify("   ") and s.phase == Phase.IDLE
