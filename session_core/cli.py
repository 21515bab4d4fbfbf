"""The ``session-core`` command.

Each subcommand lives in its own module under ``session_core.commands`` and is
imported only when it is used, so ``session-core pow solve`` does not pay for
importing the node or client stacks.  To add a command, add one line to
``_COMMANDS``: name -> "module:attribute" of a click command or group.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

import click

_COMMANDS: dict[str, str] = {
    "pow": "session_core.commands.pow_cmd:pow_group",
    "swarm": "session_core.commands.swarm_cmd:swarm_group",
    "onion": "session_core.commands.onion_cmd:onion_group",
    "node": "session_core.commands.node_cmd:node_group",
    "devnet": "session_core.commands.devnet_cmd:devnet_group",
    "fileserver": "session_core.commands.fileserver_cmd:fileserver_group",
    "opengroup": "session_core.commands.opengroup_cmd:opengroup_group",
    "id": "session_core.commands.link_cmd:id_group",  # id_cmd's group + `id link` / `id join`
    "chat": "session_core.commands.chat_cmd:chat_command",
    "send": "session_core.commands.chat_cmd:send_command",
    "inbox": "session_core.commands.chat_cmd:inbox_command",
    "name": "session_core.commands.name_cmd:name_group",
    "demo": "session_core.commands.demo_cmd:demo_command",
    "backend": "session_core.commands.backend_cmd:backend_command",
    "group": "session_core.commands.group_cmd:group_group",
    # client protections (issue 18)
    "disappear": "session_core.commands.protect_cmd:disappear_command",
    "wipe": "session_core.commands.protect_cmd:wipe_command",
    "pin": "session_core.commands.protect_cmd:pin_group",
    "remote-wipe": "session_core.commands.protect_cmd:remote_wipe_group",
    "backup": "session_core.commands.protect_cmd:backup_group",
}


def _available(name: str) -> bool:
    module = _COMMANDS[name].split(":")[0]
    return importlib.util.find_spec(module) is not None


class _LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in _COMMANDS if _available(name))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in _COMMANDS or not _available(cmd_name):
            return None
        module_name, attr = _COMMANDS[cmd_name].split(":")
        command: Any = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=_LazyGroup)
@click.version_option(package_name="session-core")
def cli() -> None:
    """session_core: proof of work, onion requests, swarms, nodes and clients for Session."""


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
