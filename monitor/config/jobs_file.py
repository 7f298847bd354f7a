"""The whole of jobs.yaml, and the checks across its sections: unique names, jobs naming defined policies,
policies matching on columns a loans file can hold."""

from __future__ import annotations

from collections import Counter

from pydantic import Field, model_validator

from monitor.config.job import JobConfig
from monitor.config.match_check import match_problem
from monitor.config.monitoring import LoansConfig
from monitor.config.policy import PolicyConfig
from monitor.config.refs import RefError, some, undefined_policy
from monitor.config.sections import BudgetConfig, DatabaseConfig, NotifyConfig, Strict, TruvConfig
from monitor.errors import ConfigError


class JobsFile(Strict):
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    truv: TruvConfig = Field(default_factory=TruvConfig)
    budgets: BudgetConfig = Field(default_factory=BudgetConfig)
    notify: NotifyConfig | None = None
    loans: LoansConfig = Field(default_factory=LoansConfig)
    policies: list[PolicyConfig] = Field(default_factory=list)
    jobs: list[JobConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> JobsFile:
        # Counted and looked up through sets: a file may hold tens of thousands of policies.
        names = [p.name for p in self.policies]
        for section, listed in (("policies", names), ("jobs", [j.name for j in self.jobs])):
            dupes = sorted(n for n, count in Counter(listed).items() if count > 1)
            if dupes:
                raise ValueError(f"{section}: names must be unique, repeated: {some(dupes)}")
        found = [*self._undefined(names), *self._unmatchable()]  # every one: check-config lists them all
        if found:
            found[0].more = found[1:]
            raise found[0]
        return self

    def _undefined(self, names: list[str]) -> list[RefError]:
        defined, known = set(names), some(names) or "none defined"
        return [
            RefError(("jobs", i, "policies", k), undefined_policy(name, known))
            for i, job in enumerate(self.jobs)
            for k, name in enumerate(job.policies)
            if name not in defined
        ]

    def _unmatchable(self) -> list[RefError]:
        attributes = set(self.loans.attributes)
        return [
            RefError(("policies", i, "match", key), problem)
            for i, policy in enumerate(self.policies)
            for key, wanted in policy.match.items()
            if (problem := match_problem(key, wanted, attributes))
        ]

    def policy(self, name: str) -> PolicyConfig:
        return next(p for p in self.policies if p.name == name)

    def job(self, name: str | None) -> JobConfig:
        if name is None:
            if not self.jobs:
                raise ConfigError("jobs.yaml", "jobs", "no job is defined; add one under jobs:")
            return self.jobs[0]
        for job in self.jobs:
            if job.name == name:
                return job
        known = ", ".join(j.name for j in self.jobs) or "none"
        raise ConfigError("jobs.yaml", "jobs", f"no job named {name!r} (jobs: {known})")
