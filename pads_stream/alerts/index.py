"""The rules a partition applied, indexed by what selects them at a chain event (pure).
`evaluate` re-exports `RuleIndex`; lookups return tuples kept ready, so the fold's per-trade
lookup allocates nothing."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from .rules import Rule


class _ByKey:
    """Rules of one kind by key (a token or a creator), each key's list with the rules of no key
    (all tokens) appended, kept as tuples so a lookup allocates nothing."""

    __slots__ = ("own", "any", "any_t", "merged")

    def __init__(self) -> None:
        self.own: dict[str, dict[str, Rule]] = {}
        self.any: dict[str, Rule] = {}
        self.any_t: tuple[Rule, ...] = ()
        self.merged: dict[str, tuple[Rule, ...]] = {}

    def get(self, key: str) -> tuple[Rule, ...]:
        return self.merged.get(key, self.any_t)

    def add(self, key: str | None, rule: Rule) -> None:
        self._change(key, rule.id, rule)

    def remove(self, key: str | None, rule_id: str) -> None:
        self._change(key, rule_id, None)

    def _change(self, key: str | None, rule_id: str, rule: Rule | None) -> None:
        rules = self.any if key is None else self.own.setdefault(key, {})
        if rule is None:
            rules.pop(rule_id, None)
        else:
            rules[rule_id] = rule
        if key is not None:
            self._merge(key)
            return
        # A rule for all tokens changes every key's tuple: rare next to per-token rules.
        self.any_t = tuple(self.any.values())
        for k in self.own:
            self._merge(k)

    def _merge(self, key: str) -> None:
        own = self.own.get(key)
        if own:
            self.merged[key] = (*own.values(), *self.any_t)
        else:
            self.own.pop(key, None)
            self.merged.pop(key, None)


class RuleIndex:
    """The rules a partition applied, by what selects them: a token's trade-type rules (its own
    and the all-token ones), its graduated rules, and new_token rules by creator."""

    __slots__ = ("_rules", "_trades", "_graduated", "_creators")

    def __init__(self) -> None:
        self._rules: dict[str, Rule] = {}
        self._trades = _ByKey()
        self._graduated = _ByKey()
        self._creators = _ByKey()

    def _slot(self, rule: Rule) -> tuple[_ByKey, str | None]:
        if rule.type == "new_token":
            return self._creators, rule.creator
        return (self._graduated if rule.type == "graduated" else self._trades), rule.token

    def add(self, rule: Rule) -> bool:
        """Apply a rule record; False when the index holds the same rule already (a re-publish)."""
        old = self._rules.get(rule.id)
        if old == rule:
            return False
        if old is not None:
            self.remove(old.id)
        self._rules[rule.id] = rule
        index, key = self._slot(rule)
        index.add(key, rule)
        return True

    def remove(self, rule_id: str) -> Rule | None:
        rule = self._rules.pop(rule_id, None)
        if rule is not None:
            index, key = self._slot(rule)
            index.remove(key, rule_id)
        return rule

    def get(self, rule_id: str) -> Rule | None:
        return self._rules.get(rule_id)

    def for_token(self, token: str) -> Sequence[Rule]:
        return self._trades.get(token)

    def for_graduated(self, token: str) -> Sequence[Rule]:
        return self._graduated.get(token)

    def for_creator(self, creator: str) -> Sequence[Rule]:
        return self._creators.get(creator)

    def __len__(self) -> int:
        return len(self._rules)

    def __iter__(self) -> Iterator[Rule]:
        return iter(self._rules.values())
