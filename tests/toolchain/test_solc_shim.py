"""The solc-js shim answers like native solc for the tools that call it (py-solc-x, forge), and
the project refuses to download a compiler when the shim is missing."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHIM = ROOT / ".solcx" / "solc-v0.8.37"

SOURCE = """// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
contract Probe { function id(IERC20 t) external pure returns (address) { return address(t); } }
"""


def run_shim(*args: str, stdin: str = "", cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SHIM), *args], input=stdin, capture_output=True, text=True, cwd=cwd, timeout=120
    )


def standard_input(source: str, remap: bool = True) -> str:
    settings: dict[str, object] = {
        "optimizer": {"enabled": True, "runs": 200},
        "evmVersion": "cancun",
        "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
    }
    if remap:
        settings["remappings"] = ["@openzeppelin=node_modules/@openzeppelin"]
    return json.dumps(
        {
            "language": "Solidity",
            "sources": {"Probe.sol": {"content": source}},
            "settings": settings,
        }
    )


def test_version_is_in_native_format_that_py_solc_x_parses():
    out = run_shim("--version")
    assert out.returncode == 0
    # py-solc-x's own pattern: (major.minor.patch)(+commit.hash)
    assert re.search(r"Version: 0\.8\.37\+commit\.[0-9a-f]{8}", out.stdout)


def test_standard_json_compiles_with_imports_read_from_node_modules():
    out = run_shim("--standard-json", "--allow-paths", str(ROOT), stdin=standard_input(SOURCE))
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    errors = [e for e in result.get("errors", []) if e["severity"] == "error"]
    assert errors == []
    assert result["contracts"]["Probe.sol"]["Probe"]["evm"]["bytecode"]["object"]


def test_standard_json_reports_a_missing_import_as_a_compiler_error():
    out = run_shim("--standard-json", stdin=standard_input(SOURCE, remap=False))
    result = json.loads(out.stdout)
    messages = [e["message"] for e in result["errors"] if e["severity"] == "error"]
    assert any("@openzeppelin/contracts/token/ERC20/IERC20.sol" in m for m in messages)


def test_standard_json_refuses_imports_outside_the_allowed_paths(tmp_path: Path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "Secret.sol").write_text("pragma solidity 0.8.37; contract Secret {}\n")
    base = tmp_path / "base"
    base.mkdir()
    source = 'pragma solidity 0.8.37; import "../outside/Secret.sol"; contract A {}'
    out = run_shim("--standard-json", "--base-path", str(base), stdin=standard_input(source, False))
    result = json.loads(out.stdout)
    messages = " ".join(e["message"] for e in result["errors"] if e["severity"] == "error")
    assert "outside the allowed paths" in messages or "not found" in messages
    assert "Secret" not in json.dumps(result.get("contracts", {}))


def test_standard_json_answers_malformed_input_with_a_json_error():
    out = run_shim("--standard-json", stdin="{not json")
    result = json.loads(out.stdout)
    assert result["errors"][0]["type"] == "JSONError"


def test_combined_json_matches_what_py_solc_x_compile_source_reads():
    import solcx

    compiled = solcx.compile_source(
        "pragma solidity 0.8.37; contract Tiny { function f() external pure returns (uint) "
        "{ return 7; } }",
        output_values=["abi", "bin", "bin-runtime"],
        solc_binary=SHIM,
    )
    (key,) = compiled
    assert key.endswith(":Tiny")
    assert compiled[key]["abi"][0]["name"] == "f"
    assert compiled[key]["bin"] and compiled[key]["bin-runtime"]


def test_large_output_is_written_whole():
    # Many contracts make an output of several megabytes: an asynchronous write would be cut.
    source = "pragma solidity 0.8.37;\n" + "\n".join(
        f"contract C{i} {{ function f{i}(uint a) external pure returns (uint) "
        f"{{ return a * {i}; }} }}"
        for i in range(300)
    )
    out = run_shim("--combined-json", "abi,bin,bin-runtime,asm", "-", stdin=source)
    assert out.returncode == 0, out.stderr[-2000:]
    assert len(out.stdout) > 1_000_000
    assert len(json.loads(out.stdout)["contracts"]) == 300


def test_unsupported_option_fails_naming_it():
    out = run_shim("--ir-optimized", "x.sol")
    assert out.returncode != 0
    assert "--ir-optimized" in out.stderr


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git to list the project files")
def test_missing_shim_fails_compilation_with_instructions_instead_of_downloading(tmp_path: Path):
    project = tmp_path / "project"
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in files:
        if name.startswith(("contracts/", "brownie-config.yaml")):
            target = project / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target)
    (project / "node_modules").symlink_to(ROOT / "node_modules")
    empty = tmp_path / "no-compiler"
    empty.mkdir()
    env = {**os.environ, "SOLCX_BINARY_PATH": str(empty)}
    brownie = Path(sys.executable).parent / "brownie"
    out = subprocess.run(
        [str(brownie), "compile"], cwd=project, env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode != 0
    assert "never downloads a compiler" in out.stdout + out.stderr
    assert "make setup" in out.stdout + out.stderr
    assert list(empty.iterdir()) == []
