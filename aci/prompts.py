"""The text the model reads: system prompt, task message, format errors.

The system prompt follows MLGym's layout: the setting, the commands (generated
from the tool registry), the reply format with an example, and the rules of the
episode (limits). The task description goes in the first user message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aci.agent_config import AgentTemplates
    from aci.limits import Budget
    from aci.registry import ToolRegistry

WORKSPACE = "/home/agent/workspace"

REPLY_EXAMPLE = """DISCUSSION
First I'll list the files in the workspace to see what the baseline looks like.
```
ls -a
```"""

FORMAT_RULES = f"""Your reply must contain a short discussion followed by exactly ONE command in a \
fenced code block, like this:
{REPLY_EXAMPLE}

Send one command per reply and wait for its output before the next one. A multi-line \
command such as edit ... end_of_edit goes inside the one code block."""


TOOL_FORMAT_RULES = """Your reply must make exactly ONE tool call: the bash tool for a shell \
command ({"command": "ls -a"}), or another tool by its name, with its arguments as a valid \
JSON object. Explain your reasoning briefly in the message text; do not write the command \
in the text or in a code block."""


def format_error_message(reason: str, *, tool_calls: bool = False) -> str:
    """The observation after a reply without exactly one command (``tool_calls``: for a
    model that acts by native tool calls, which is asked for a tool call, not a block)."""
    return (f"Your output was not formatted correctly: {reason}.\n"
            f"{TOOL_FORMAT_RULES if tool_calls else FORMAT_RULES}")


def step_line(step: int, max_steps: int) -> str:
    """MLGym's step counter, shown after each observation by the ``mlgym`` profile."""
    return f"(Current Step: {step}, Remaining Steps: {max(0, max_steps - step)})"


def _limits_text(budget: Budget | None, command_timeout: float | None, step_counter: bool = False) -> str:
    rules = []
    if budget is not None:
        rules.append(f"- You have at most {budget.max_steps} steps (replies). When they run "
                     "out, your current submission is scored automatically.")
        if step_counter:
            rules.append("- Every observation ends with the current step and the steps remaining: "
                         "when few remain, submit a working solution rather than keep trying.")
        if budget.max_cost:
            rules.append(f"- The episode's model cost is capped at ${budget.max_cost:.2f}.")
        if budget.max_wall_time_s:
            rules.append(f"- The episode ends after {budget.max_wall_time_s / 60:.0f} minutes.")
    if command_timeout:
        rules.append(f"- A command that runs longer than {command_timeout:g} seconds is killed.")
    return "\n".join(rules)


def system_prompt(
    registry: ToolRegistry,
    *,
    window: int = 100,
    budget: Budget | None = None,
    command_timeout: float | None = None,
    tool_calls: bool = False,
    step_counter: bool = False,
    submit_ends: bool = False,
) -> str:
    """The system prompt: setting, commands from the registry, reply format, limits."""
    if tool_calls:
        reply = ("Call exactly one tool per reply (use the bash tool for shell commands), and "
                 "explain your reasoning briefly in the message text before the call.")
    else:
        reply = FORMAT_RULES
    limits = _limits_text(budget, command_timeout, step_counter)
    ending = ("submit when you are done: submit ends the episode, even when the submission "
              "cannot be scored." if submit_ends else "submit when you are done.")
    return f"""SETTING: You are an autonomous machine learning researcher working directly in \
the command line of a Linux machine with a special interface. Your workspace is \
/home/agent/workspace.

The special interface consists of a file editor that shows you {window} lines of a file at \
a time. Besides ordinary bash commands (ls, cat, cd, grep, python script.py, ...) you can \
use the following commands to navigate and edit files:

COMMANDS:
{registry.docs()}

THE edit AND insert COMMANDS NEED PROPER INDENTATION: to add the line '        print(x)' \
you must write all those spaces before the code. Badly indented Python is refused.

RESPONSE FORMAT:
{reply}

Interactive programs (python or bash without a script, vim, nano, less, ...) are not \
supported: run scripts non-interactively. Commands run in a persistent shell, so cd and \
exported variables carry over between steps.
{limits}

Your goal is the best possible score on the task, not just a first working submission: \
validate to see your score, improve, and {ending}""".rstrip()


def task_prompt(description: str, *, baseline: dict[str, float] | None = None,
                step: tuple[int, int] | None = None) -> str:
    """The first user message: the task description (and the baseline to beat).

    ``step``: (current step, max steps) to show the step counter (the mlgym profile).
    """
    text = f"We're currently solving the following task. Here's the task description:\n\n" \
           f"TASK DESCRIPTION:\n{description.strip()}"
    if baseline:
        shown = ", ".join(f"{k}: {v}" for k, v in baseline.items())
        text += f"\n\nBASELINE PERFORMANCE:\n{shown}\nYour goal is to beat this baseline."
    return text + "\n\n" + _state(None, None, step)


def next_step(observation: str, open_file: str | None, cwd: str | None = None,
              step: tuple[int, int] | None = None) -> str:
    """An observation followed by the shell state, as MLGym's next-step template shows it
    (with ``step``, (current step, max steps), its step counter first)."""
    return f"{observation}\n{_state(open_file, cwd, step)}"


def _state(open_file: str | None, cwd: str | None, step: tuple[int, int] | None) -> str:
    counter = f"{step_line(*step)}\n" if step is not None else ""
    return f"{counter}(Open file: {open_file or 'n/a'})\n(Current directory: {cwd or WORKSPACE})\nbash-$"


@dataclass
class Prompts:
    """The texts of one episode: ours, or an MLGym agent config's templates filled in.

    ``task_values`` fill a template's task placeholders (``id``, ``name``,
    ``description``, ``training_timeout``, ``baseline_scores``).
    """

    registry: ToolRegistry
    window: int
    budget: Budget
    command_timeout: float | None = None
    tool_calls: bool = False
    step_counter: bool = False
    submit_ends: bool = False
    templates: AgentTemplates | None = None
    task_values: dict | None = None

    def _values(self, **state: object) -> dict:
        from aci.agent_config import TOOL_VARIABLES

        tools = dict.fromkeys(TOOL_VARIABLES, "")
        tools.update(WINDOW=self.window, OVERLAP=2, CURRENT_LINE=0, SEARCH_INDEX=0)
        values = {**tools, **(self.task_values or {}), "command_docs": self.registry.docs(),
                  "open_file": "n/a", "working_dir": WORKSPACE, "observation": ""}
        values.update({k: v for k, v in state.items() if v is not None})
        return values

    def system(self) -> str:
        if self.templates is not None:
            return self.templates.fill(self.templates.system, self._values())
        return system_prompt(self.registry, window=self.window, budget=self.budget,
                             command_timeout=self.command_timeout, tool_calls=self.tool_calls,
                             step_counter=self.step_counter, submit_ends=self.submit_ends)

    def task(self, description: str, baseline: dict[str, float] | None) -> str:
        if self.templates is not None:
            return self.templates.fill(self.templates.task, self._values(
                current_step=0, remaining_steps=self.budget.max_steps))
        step = (0, self.budget.max_steps) if self.step_counter else None
        return task_prompt(description, baseline=baseline, step=step)

    def observation(self, text: str, open_file: str | None, cwd: str | None, step: int) -> str:
        """What the agent reads after a command (``step``: the steps taken so far)."""
        if self.templates is not None:
            from aci.execute import NO_OUTPUT  # what execute says for a silent command

            silent = not text.strip() or text == NO_OUTPUT
            template = self.templates.next_step_no_output if silent else self.templates.next_step
            return self.templates.fill(template, self._values(
                observation=text, open_file=open_file, working_dir=cwd, current_step=step,
                remaining_steps=max(0, self.budget.max_steps - step)))
        counter = (step, self.budget.max_steps) if self.step_counter else None
        return next_step(text, open_file, cwd, counter)

    def format_error(self, default: str | None = None, *, reason: str = "") -> str:
        """The answer to a malformed reply: an agent config's template, else ``default``
        (ours, naming what was wrong), else built from ``reason``: in tool-call mode it
        asks for a tool call, never a fenced block."""
        if self.templates is not None and self.templates.format_error is not None:
            return self.templates.fill(self.templates.format_error, self._values())
        if default is not None:
            return default
        return format_error_message(reason or "expected exactly one command", tool_calls=self.tool_calls)
