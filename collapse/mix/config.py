"""What `semisynth mix` can be told: the sources with their kind and target share, the real floor."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from semisynth.config import CommandConfig, ConfigRefusal


class MixSource(CommandConfig):
    path: str = Field(description="a run directory, JSONL/CSV/Parquet file or datasets folder")
    kind: Literal["real", "semi_synthetic", "synthetic"] = Field(description="what the run is")
    share: float | None = Field(None, ge=0, le=1, description="target share of the corpus (all or none given)")
    name: str | None = Field(None, description="label in the manifest (default: the path's name)")
    monitor_report: str | None = Field(None, description="monitor report.json for this run "
                                       "(default: <path>/monitor/report.json)")
    force: bool = Field(False, description="use this run even if its monitor gates failed or are missing")
    review: str | None = Field(None, description="review.json of `semisynth preference report` for this run (default: "
                               "beside the monitor report); its rejected records never enter, edited ones enter edited")
    min_accepted: float | None = Field(None, ge=0, le=1, description="require a review of these very records whose "
                                       "acceptance lower bound (Wilson) is at least this")
    min_accepted_by: Literal["overall", "generator"] = Field("overall", description="min_accepted applies to the "
                                                             "overall bound or to every generator's")


class MixConfig(CommandConfig):
    """`semisynth mix`: target shares per source, a floor on the real share, monitor gates respected."""

    out: str = Field(description="output folder (must not exist unless overwrite)")
    sources: list[MixSource] = Field(min_length=1)
    real_floor: float = Field(0.0, ge=0, le=1, description="minimum share of origin=real records")
    size: int | None = Field(None, ge=1, description="total records (default: the most the shares allow)")
    seed: int = 0
    force: bool = Field(False, description="force every source past its monitor gates")
    overwrite: bool = False

    @model_validator(mode="after")
    def _shares(self) -> MixConfig:
        given = [s.share for s in self.sources if s.share is not None]
        if given and len(given) != len(self.sources):
            raise ValueError("give a share for every source or for none")
        if given and abs(sum(given) - 1.0) > 1e-6:
            raise ValueError(f"shares sum to {sum(given):.4g}, not 1")
        real_share = sum(s.share for s in self.sources if s.kind == "real") if given else None
        if real_share is not None and self.real_floor > real_share + 1e-9:
            # the floor would drop synthetic records until it held: the shares asked for could never be met
            raise ConfigRefusal(f"real_floor {self.real_floor:g} is above the real sources' share {real_share:.4g}, "
                                "so synthetic records would be dropped to meet it",
                                f"use a real_floor from 0 to {real_share:.4g}, or give the real sources a share of "
                                f"at least {self.real_floor:g}", "real_floor")
        names = [source_name(s) for s in self.sources]
        dup = [n for n, c in Counter(names).items() if c > 1]
        if dup:
            raise ValueError(f"source name '{dup[0]}' is used twice; set distinct `name`s")
        return self


def source_name(s: MixSource) -> str:
    return s.name or Path(s.path).name

