"""Knowledge distillation: the loss against a hand computation, offline teacher outputs, the model teacher."""
import numpy as np
import pytest

from tutelage import nn
from tutelage.errors import DataError, SpecError
from tutelage.methods.kd import distill, softmax, teacher_logits
from tutelage.plugins import registry
from tutelage.train import fit


def test_distillation_loss_matches_a_hand_computed_value():
    # student logits s = (1, 2, 3), teacher t = (3, 2, 1), T = 2, alpha = 0.5, label 2.
    # softmax(t/T) = (e^1.5, e^1, e^0.5)/S and softmax(s/T) is its reverse, so the log-ratio of the
    # first and last classes is exactly ±1 and KL = p1 - p3 = (e^1.5 - e^0.5)/S = 0.3201567.
    # T²·KL = 1.2806267; CE(s, 2) = log(1 + e^-1 + e^-2) = 0.4076060; loss = (1.2806267 + 0.4076060)/2.
    loss = nn.losses.Distillation(temperature=2.0, alpha=0.5)
    value, grad = loss(np.array([[1.0, 2.0, 3.0]], np.float32), (np.array([[3.0, 2.0, 1.0]], np.float32), np.array([2])))
    assert value == pytest.approx(0.8441163, abs=1e-6)
    # gradient: alpha·T·(p_s - p_t) + (1 - alpha)·(softmax(s) - onehot)
    p_s, p_t = softmax([[0.5, 1.0, 1.5]]), softmax([[1.5, 1.0, 0.5]])
    expected = 0.5 * 2.0 * (p_s - p_t) + 0.5 * (softmax([[1.0, 2.0, 3.0]]) - [[0, 0, 1]])
    np.testing.assert_allclose(grad, expected, atol=1e-6)


@pytest.fixture
def digits_teacher(digits):
    X, y, _, _ = digits
    teacher = nn.Sequential([nn.Dense(64), nn.ReLU(), nn.Dense(10)], input_shape=(64,), seed=1)
    fit(teacher, X, y, loss="cross_entropy", epochs=15, batch_size=64, lr=3e-3, quiet=True)
    return teacher


def test_distilled_student_learns_the_teacher(digits, digits_teacher, make_student):
    X, y, Xt, yt = digits
    student, derivation = distill(digits_teacher, X, y, make_student(64, 10, hidden=12), temperature=4.0, alpha=0.9,
                                  epochs=30, lr=3e-3)
    agreement = np.mean(student(Xt).argmax(1) == digits_teacher(Xt).argmax(1))
    assert agreement > 0.85
    assert derivation.method == "kd" and derivation.metrics["temperature"] == 4.0


def test_offline_teacher_logits_give_the_same_student_bit_for_bit(digits, digits_teacher, make_student):
    X, y, _, _ = digits
    transfer = np.clip(X[:200] + 0.1, 0, 1)
    online, _ = distill(digits_teacher, X, y, make_student(64, 10), transfer=transfer, epochs=3)
    logits = teacher_logits(digits_teacher, np.concatenate([X, transfer]))
    offline, derivation = distill(None, X, y, make_student(64, 10), transfer=transfer, logits=logits, epochs=3)
    np.testing.assert_array_equal(online.theta, offline.theta)
    assert derivation.teacher is None


def test_distill_input_errors(digits, make_student):
    X, y, _, _ = digits
    with pytest.raises(SpecError, match="teacher"):
        distill(None, X, y, make_student(64, 10))
    with pytest.raises(DataError, match="teacher logit rows"):
        distill(None, X, y, make_student(64, 10), logits=np.zeros((3, 10), np.float32))


def test_model_teacher_softens_its_logits_with_temperature(digits, digits_teacher, tmp_path):
    X, _, _, _ = digits
    path = tmp_path / "teacher.safetensors"
    ident = nn.save(digits_teacher, path)
    teacher = registry("teachers").get("model")(path=str(path), temperature=4.0)
    assert teacher.privileged is False and teacher.model_id == ident and teacher.name == f"model:{ident}"
    soft = teacher.soft_targets(X[:50])
    np.testing.assert_allclose(soft.sum(1), 1.0, rtol=1e-5)
    entropy = lambda p: -(p * np.log(p + 1e-12)).sum(1).mean()
    assert entropy(soft) > entropy(teacher.soft_targets(X[:50], temperature=1.0))
    np.testing.assert_array_equal(teacher.predict(X[:50]), digits_teacher(X[:50]).argmax(1))
    np.testing.assert_allclose(teacher.act(X[0], {}), digits_teacher(X[0]))


def test_model_teacher_needs_a_model_file():
    with pytest.raises(SpecError, match="path="):
        registry("teachers").get("model")()
