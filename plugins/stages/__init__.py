"""Built-in stage types of run specs: generate, distill, evaluate, quantize, judge, reward, improve, critique, revise,
and the language stages lm-train, text-kd, text-critique, text-improve, text-collapse.

They register through the ``tutelage_stage_types`` hook like any plugin's;
each declares a settings schema, checked before a run writes anything.
"""
from __future__ import annotations

from tutelage import hookimpl
from tutelage_plugins.stages.critique import CritiqueStage
from tutelage_plugins.stages.distill import DistillStage
from tutelage_plugins.stages.evaluate import EvaluateStage
from tutelage_plugins.stages.generate import GenerateStage
from tutelage_plugins.stages.generations import GenerationsStage
from tutelage_plugins.stages.improve import ImproveStage
from tutelage_plugins.stages.judge import JudgeStage
from tutelage_plugins.stages.quantize import QuantizeStage
from tutelage_plugins.stages.reward import RewardStage
from tutelage_plugins.stages.revise import ReviseStage
from tutelage_plugins.stages.text_collapse import TextCollapseStage
from tutelage_plugins.stages.text_critique import TextCritiqueStage
from tutelage_plugins.stages.text_improve import TextImproveStage
from tutelage_plugins.stages.text_kd import TextKDStage
from tutelage_plugins.stages.text_train import LMTrainStage


@hookimpl
def tutelage_stage_types() -> dict:
    stages = (GenerateStage(), DistillStage(), EvaluateStage(), QuantizeStage(), JudgeStage(), RewardStage(), ImproveStage(),
              CritiqueStage(), ReviseStage(), GenerationsStage())
    stages += (LMTrainStage(), TextKDStage(), TextCritiqueStage(), TextImproveStage(), TextCollapseStage())
    return {stage.name: stage for stage in stages}
