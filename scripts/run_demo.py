"""`make demo`'s entry point: loads the brownie project and attaches to the local chain that
`python -m disburse.chain.localchain` started, then runs scripts/demo.py.

Not `brownie run scripts/demo.py`: brownie imports a script by a module name built from its
absolute path, which fails when any folder above the project has a dot in its name.
"""

from __future__ import annotations

from brownie import network, project


def run() -> None:
    active = project.load()
    active.load_config()
    active._add_to_main_namespace()  # `from brownie import MilestoneEscrow` in the scripts
    network.connect("development")
    import scripts.demo  # after the namespace exists: scripts.deploy imports the contracts

    scripts.demo.main()


if __name__ == "__main__":
    run()
