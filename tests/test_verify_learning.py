""""Did the model learn?" on records shaped like real runs (no training here): the evidence a verdict rests on."""

from __future__ import annotations

from bnfix.verify.records import fit_learned


def fit(losses, first_batch_loss, batch_size):
    return {"epochs": len(losses), "final": {"loss": losses[-1]}, "history": {"loss": losses},
            "first_batch_loss": first_batch_loss, "budget": {"batch_size": batch_size}, "label_majority": None}


def test_a_flat_loss_is_not_learning_even_when_one_sample_started_higher():
    """Stack Overflow 60766775 under verify (batch_size=1): five epochs at 23,646, a first sample's loss of 30,992."""
    learned, reason = fit_learned(fit([23646.08, 23645.93, 23645.93, 23645.93, 23645.92], 30991.6, batch_size=1))
    assert learned is False
    assert reason == "training loss 2.36e+04 → 2.36e+04, within 5% of where it started"


def test_a_first_batch_of_many_rows_still_shows_learning_within_the_first_epoch():
    learned, reason = fit_learned(fit([0.41, 0.40, 0.40], 2.3, batch_size=32))
    assert learned is True
    assert reason == "training loss 2.3 → 0.4"


def test_a_falling_epoch_loss_is_learning_whatever_the_batch_size():
    assert fit_learned(fit([1.0, 0.6, 0.3], 0.9, batch_size=1))[0] is True


def run(losses, first_batch_loss, batch_size=32, seed=0):
    return {"seed": seed, "status": "ok", "error": None, "fits": [fit(losses, first_batch_loss, batch_size)],
            "evaluations": [], "predictions": []}


def test_seeds_split_on_whether_the_model_learned_is_not_a_judged_verdict():
    """Stack Overflow 74669249 under verify: loss flat at 30,770 in every seed; one first batch started 6% above it."""
    from bnfix.verify.compare import Verdict, judge

    flat = [30787.3, 30776.7, 30772.3, 30769.4, 30767.3]
    runs = [run(flat, 24797.6, seed=0), run(flat, 32867.0, seed=1)]
    judgement = judge(runs, runs)
    assert judgement.verdict is Verdict.DID_NOT_LEARN
    assert judgement.learned == {"original": False, "repaired": False}
