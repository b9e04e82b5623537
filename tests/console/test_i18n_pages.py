"""The detail pages' labels (disburse.console.i18n.pages) in both languages.

├── English and Japanese hold the same keys, none empty, none left in English in Japanese
├── every event of the ABIs, every argument name, every milestone state, every council action
│   and every alert kind has its label
└── every label the detail templates ask for exists
"""

from __future__ import annotations

import re
import string
from pathlib import Path

from disburse.chain.contracts import load_abi
from disburse.chain.escrow import milestone_statuses
from disburse.console.i18n import CATALOG as MERGED
from disburse.console.i18n import LANGS
from disburse.console.i18n.pages import CATALOG
from disburse.council import ACTIONS

ALERT_KINDS = (
    "spi",
    "cpi",
    "tcpi",
    "bei",
    "spi_t",
    "baseline_growth",
    "cost_growth",
    "overdue",
    "idle_funds",
    "low_execution",
    "concentration",
    "force_release_rate",
    "dispute_rate",
    "oracle_disagreement",
)
"""Every kind `disburse.analytics.alerts.Alert.kind` names."""
TEMPLATES = Path("disburse/console/templates")
OURS = (
    "program.html",
    "_program_live.html",
    "milestone.html",
    "_milestone_live.html",
    "council.html",
    "_council_queue.html",
    "alerts.html",
    "_alerts_list.html",
    "events.html",
    "_events_list.html",
    "oracles.html",
    "_oracles_table.html",
    "_detail_macros.html",
)


def test_both_languages_hold_the_same_keys():
    assert set(CATALOG) == set(LANGS)
    assert set(CATALOG["en"]) == set(CATALOG["ja"])
    for lang in LANGS:
        assert all(v.strip() for v in CATALOG[lang].values()), lang


def test_the_japanese_labels_are_japanese():
    japanese = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
    # Labels that are names or symbols in both languages.
    same = sorted(k for k, v in CATALOG["en"].items() if CATALOG["ja"][k] == v)
    assert same == []
    missing = [k for k, v in CATALOG["ja"].items() if not japanese.search(v)]
    assert missing == [], missing


def test_every_event_argument_state_action_and_alert_has_a_label():
    for contract in ("MilestoneEscrow", "OversightCouncil"):
        for item in load_abi(contract):
            if item.get("type") != "event":
                continue
            assert f"ev.{item['name']}" in CATALOG["en"], item["name"]
            for arg in item["inputs"]:
                assert f"arg.{arg['name']}" in CATALOG["en"], (item["name"], arg["name"])
    for status in milestone_statuses():
        assert f"status.{status}" in CATALOG["en"], status
    for action in [*ACTIONS, "unknown"]:
        assert f"action.{action}" in CATALOG["en"], action
    functions = {
        item["name"]: item
        for contract in ("MilestoneEscrow", "OversightCouncil")
        for item in load_abi(contract)
        if item.get("type") == "function"
    }
    for spec in ACTIONS.values():  # a proposal's call arguments are labelled too
        for arg in functions[spec.function]["inputs"]:
            assert f"arg.{arg['name'].rstrip('_')}" in CATALOG["en"], (spec.name, arg["name"])
    source = Path("disburse/analytics/alerts.py").read_text()
    for kind in ALERT_KINDS:
        assert f'"{kind}"' in source, kind  # still a kind the analytics raise
        assert f"akind.{kind}" in CATALOG["en"], kind


def test_every_label_a_detail_template_asks_for_exists():
    for name in OURS:
        text = (TEMPLATES / name).read_text()
        for key in re.findall(r"""\bt\(\s*["'](\w[\w.]*\w)["']""", text):
            for lang in LANGS:
                assert key in MERGED[lang], (name, key, lang)
        # Keys built from a prefix ("ev." ~ name) have their prefix in the catalog.
        for prefix in re.findall(r"""\bt\(\s*["']([\w.]+\.)["']\s*~""", text):
            assert any(k.startswith(prefix) for k in MERGED["en"]), (name, prefix)


def test_no_detail_template_holds_an_english_literal():
    """Text a viewer reads comes through t(): a template's own text, outside its tags and
    expressions, has no words."""
    for name in OURS:
        text = (TEMPLATES / name).read_text()
        for pattern in (r"\{#.*?#\}", r"\{%.*?%\}", r"\{\{.*?\}\}", r"<script[^>]*>.*?</script>"):
            text = re.sub(pattern, "", text, flags=re.DOTALL)
        text = re.sub(r"<[^>]+>", " ", text)
        assert re.findall(r"[A-Za-z]{2,}", text) == [], name


def test_every_event_has_a_sentence_naming_only_its_own_arguments():
    fields = string.Formatter()
    for contract in ("MilestoneEscrow", "OversightCouncil"):
        for item in load_abi(contract):
            if item.get("type") != "event":
                continue
            names = {arg["name"] for arg in item["inputs"]}
            for lang in LANGS:
                phrase = CATALOG[lang][f"say.{item['name']}"]
                used = {field for _, field, _, _ in fields.parse(phrase) if field}
                assert used <= names, (lang, item["name"], used - names)


def test_every_council_action_has_a_sentence_naming_only_its_call_arguments():
    fields = string.Formatter()
    functions = {
        item["name"]: item
        for contract in ("MilestoneEscrow", "OversightCouncil")
        for item in load_abi(contract)
        if item.get("type") == "function"
    }
    for spec in ACTIONS.values():
        names = {arg["name"].rstrip("_") for arg in functions[spec.function]["inputs"]}
        for lang in LANGS:
            phrase = CATALOG[lang][f"propose.{spec.name}"]
            used = {field for _, field, _, _ in fields.parse(phrase) if field}
            assert used <= names, (lang, spec.name, used - names)
