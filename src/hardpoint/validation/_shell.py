"""Command injection: a shell tokenizer that looks for a command the value would start.

A value reaches a shell inside a larger command line. To run its own command it has to end the
current one (``;``, ``|``, ``&``, ``&&``, ``||``, a newline), substitute (``$(...)``, backticks),
or be the whole command. So the detector splits the value on shell separators the way ``sh``
and ``cmd.exe`` do, undoes the evasions the shell would undo itself (quotes and backslashes
inside a word: ``w'h'o'am'i``; ``${IFS}`` for a space; ``$@`` and ``$9`` that expand to
nothing), and asks of each segment whether it starts with a command. Unambiguous commands
(``whoami``, ``/bin/sh``, ``nc``) count alone; ones that are also English words (``cat``,
``more``, ``type``, ``sleep``) count only with shell-shaped arguments: a path, a flag, a number
for ``sleep``/``ping``, or nothing at all. "Tom & Jerry" and "Drop me a line; thanks!" pass.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from itertools import repeat
from typing import Final

from ._text import LONG_TEXT, contains_any, replace_chars, trie_pattern

__all__ = ["PROGRAMS", "command_reason"]

# Commands that are also common words (or that users type in prose): they need evidence.
_AMBIGUOUS: Final = frozenset(
    {
        "ll",
        "flock",
        "expect",
        "service",
        "strings",
        "bundle",
        "screen",
        "wish",
        "where",
        "at",
        "column",
        "fold",
        "trap",
        "alias",
        "apt",
        "arp",
        "awk",
        "base64",
        "call",
        "cat",
        "cd",
        "copy",
        "cp",
        "crontab",
        "cut",
        "dd",
        "del",
        "diff",
        "dig",
        "dir",
        "echo",
        "env",
        "eval",
        "exec",
        "export",
        "file",
        "find",
        "ftp",
        "gem",
        "grep",
        "halt",
        "head",
        "history",
        "host",
        "hostname",
        "id",
        "init",
        "ip",
        "kill",
        "last",
        "less",
        "ls",
        "lua",
        "mail",
        "mkdir",
        "more",
        "mount",
        "mv",
        "nc",
        "net",
        "nl",
        "node",
        "npm",
        "openssl",
        "passwd",
        "perl",
        "php",
        "ping",
        "pip",
        "pipx",
        "printf",
        "ps",
        "pwd",
        "python",
        "query",
        "reboot",
        "reg",
        "rm",
        "route",
        "ruby",
        "sc",
        "sed",
        "set",
        "sh",
        "shutdown",
        "sleep",
        "sort",
        "ss",
        "ssh",
        "start",
        "stat",
        "su",
        "sysinfo",
        "system",
        "tac",
        "tail",
        "tar",
        "telnet",
        "timeout",
        "top",
        "touch",
        "type",
        "uniq",
        "uptime",
        "ver",
        "w",
        "waitfor",
        "wc",
        "which",
        "who",
        "wsl",
    }
)
# Administration and attack tools whose names are not words either.
_PROGRAMS: Final = frozenset(
    {
        "cpulimit",
        "7z",
        "aa-complain",
        "aa-disable",
        "aa-enforce",
        "ansible",
        "ansible-config",
        "ansible-console",
        "ansible-doc",
        "ansible-galaxy",
        "ansible-inventory",
        "ansible-playbook",
        "ansible-pull",
        "ansible-vault",
        "aria2c",
        "arping",
        "atop",
        "attrib",
        "base32",
        "bcdedit",
        "bettercap",
        "bpftrace",
        "bsdtar",
        "bzip2",
        "cacls",
        "chattr",
        "chef-client",
        "chef-run",
        "chef-shell",
        "chef-vault",
        "chrt",
        "cpio",
        "cscli",
        "dirb",
        "ettercap",
        "findstr",
        "forfiles",
        "fsck",
        "fuser",
        "get-childitem",
        "get-content",
        "getfacl",
        "gobuster",
        "groupadd",
        "hashcat",
        "hexdump",
        "hostnamectl",
        "hydra",
        "icacls",
        "iftop",
        "insmod",
        "ionice",
        "iostat",
        "iotop",
        "ip6tables",
        "irb",
        "iwconfig",
        "journalctl",
        "kinit",
        "klist",
        "knife",
        "ksh93",
        "ldapsearch",
        "loginctl",
        "lsattr",
        "lsmod",
        "luajit",
        "lz4",
        "masscan",
        "mawk",
        "mkfs",
        "modprobe",
        "mpstat",
        "msfconsole",
        "msfvenom",
        "msiexec",
        "mtr",
        "nawk",
        "nbtstat",
        "nethogs",
        "nft",
        "ngrep",
        "nikto",
        "nmap",
        "nmcli",
        "objdump",
        "perf",
        "pgrep",
        "php-cgi",
        "pidof",
        "ping6",
        "qwinsta",
        "rake",
        "rclone",
        "renice",
        "rlwrap",
        "rmmod",
        "rmt",
        "rmt-dump",
        "rmt-tar",
        "robocopy",
        "rpcclient",
        "set-content",
        "setfacl",
        "setsid",
        "sftp",
        "shred",
        "smbclient",
        "sqlmap",
        "ssh-agent",
        "ssh-copy-id",
        "ssh-keygen",
        "stdbuf",
        "sysctl",
        "systemctl",
        "takeown",
        "taskset",
        "tclsh",
        "tcpdump",
        "timedatectl",
        "toybox",
        "tracepath",
        "tshark",
        "unbuffer",
        "unrar",
        "userdel",
        "uuencode",
        "vmstat",
        "wevtutil",
        "whois",
        "xcopy",
        "xz",
        "zstd",
    }
)
# Commands that are not English words: after a separator they are an attack on their own.
_COMMANDS: Final = (
    _AMBIGUOUS
    | _PROGRAMS
    | frozenset(
        {
            "apt-get",
            "aptitude",
            "bash",
            "bash.exe",
            "bitsadmin",
            "busybox",
            "bzcat",
            "calc.exe",
            "certutil",
            "chmod",
            "chown",
            "cmd",
            "cmd.exe",
            "cscript",
            "csh",
            "curl",
            "dash",
            "egrep",
            "fdisk",
            "gawk",
            "getent",
            "gunzip",
            "gzip",
            "htop",
            "iex",
            "ifconfig",
            "invoke-expression",
            "invoke-restmethod",
            "invoke-webrequest",
            "ipconfig",
            "iptables",
            "irm",
            "iwr",
            "killall",
            "ksh",
            "lastlog",
            "locate",
            "ls.exe",
            "lsb_release",
            "lsof",
            "ltrace",
            "mkfifo",
            "mshta",
            "ncat",
            "net.exe",
            "net1",
            "netcat",
            "netsh",
            "netstat",
            "new-object",
            "nohup",
            "notepad.exe",
            "nslookup",
            "od",
            "passthru",
            "pcntl_exec",
            "phpinfo",
            "ping.exe",
            "pkill",
            "popen",
            "powershell",
            "powershell.exe",
            "printenv",
            "proc_open",
            "pwsh",
            "python2",
            "python3",
            "regedit",
            "regsvr32",
            "rundll32",
            "schtasks",
            "scp",
            "sendmail",
            "shell_exec",
            "socat",
            "start-process",
            "strace",
            "sudo",
            "systeminfo",
            "taskkill",
            "tasklist",
            "tcsh",
            "tftp",
            "traceroute",
            "tracert",
            "umount",
            "uname",
            "unset",
            "useradd",
            "usermod",
            "visudo",
            "vssadmin",
            "wget",
            "whereis",
            "whoami",
            "whoami.exe",
            "wmic",
            "wscript",
            "xargs",
            "xp_cmdshell",
            "xterm",
            "xxd",
            "xzcat",
            "yum",
            "zcat",
            "zsh",
            "zstdcat",
        }
    )
)
# Commands that are full attacks with no argument at all (``; id``, ``| whoami``).
_BARE_OK: Final = frozenset(
    {
        "id",
        "whoami",
        "uname",
        "ifconfig",
        "ipconfig",
        "netstat",
        "systeminfo",
        "tasklist",
        "hostname",
        "pwd",
        "ls",
        "dir",
        "env",
        "printenv",
        "set",
        "ver",
        "ps",
        "w",
        "who",
        "uptime",
        "phpinfo",
        "sysinfo",
        "reboot",
        "shutdown",
        "halt",
        "history",
        "bash",
        "sh",
        "zsh",
        "powershell",
        "cmd",
        "cmd.exe",
        "calc.exe",
        "lsof",
        "getent",
        "lsb_release",
        "net",
        "arp",
        "route",
        "whoami.exe",
        "ping",
        "top",
        "last",
    }
)

# Shell separators: ; | & && || newline and backtick, "$(", the function definitions "() {"
# and "{ :; }", and the escaped newlines %0a, \n and \r that a later decoder turns into one.
_SEPARATOR_TABLE: Final = str.maketrans(dict.fromkeys(";|&\n\r`", "\x1f"))
_SEPARATOR_PAIRS: Final = tuple((char, "\x1f") for char in ";|&\n\r`")
_LITERAL_SEPARATORS: Final = ("$(", "%0a", "\\n", "\\r")
# Each led by its literal; one pattern of both is led by a character class, which the engine
# scans for a character at a time (50 us over 10,000 characters instead of 5).
_FUNCTION_BRACE = re.compile(r"\(\s*\)\s*\{")
_COLON_BRACE = re.compile(r"\{\s*:\s*;\s*\}")
_BRACE_SEPARATORS = re.compile(_FUNCTION_BRACE.pattern + "|" + _COLON_BRACE.pattern)


def _brace_separators(low: str) -> str:
    """*low* with each "() {" and "{ :; }" replaced by a separator, as `_BRACE_SEPARATORS` does.

    A text holding only one kind is replaced by that kind's own pattern; only one holding
    both (where a "() {" can end with the "{" a "{ :; }" starts with, and replacing one kind
    and then the other would differ: the separator put in is whitespace) needs the slow one.
    """
    functions = "(" in low and _FUNCTION_BRACE.search(low) is not None
    colons = ":" in low and _COLON_BRACE.search(low) is not None
    if functions and colons:
        return _BRACE_SEPARATORS.sub("\x1f", low)
    if functions:
        return _FUNCTION_BRACE.sub("\x1f", low)
    if colons:
        return _COLON_BRACE.sub("\x1f", low)
    return low


def _split_commands(low: str) -> list[str]:
    """Split *low* into command lines at every shell separator, at C speed.

    A run of single-character separators gives empty parts, which hold no command line.
    """
    # "$(" before the braces: in "$(){" the regex takes "$(" first, leftmost.
    for separator in _LITERAL_SEPARATORS:
        if low.rfind(separator) >= 0:  # faster than "in" on long text (see contains_any)
            low = low.replace(separator, "\x1f")
    if "{" in low:
        low = _brace_separators(low)
    return replace_chars(low, _SEPARATOR_TABLE, _SEPARATOR_PAIRS).split("\x1f")


_LEADING_QUOTE = re.compile(r"\s*['\"](?=\s)")
# Quotes, escapes or expansions inside a word (w'h'o, c$@at, pi``ng) or a backslash before it
# (\\ls skips an alias): the shell removes them, people do not type them.
_INNER_NOISE = re.compile(r"[a-z0-9]['\"\\^$`]+[a-z0-9]|^\\[a-z]")
_ANSI_ESCAPE = re.compile(r"(?:\\033|\x1b)\[[\d;]*[a-z]?")
# An expansion that is empty in practice, between two letters of a word: pi``ng, cu$@rl.
# Led by the backtick or "$" (a fast scan for two rare characters), the letter before it
# checked by a look-behind; led by [a-z0-9], the engine tried a match at every letter.
_INNER_TICKS = re.compile(r"`(?<=[a-z0-9]`)`(?:[a-z0-9]|\s)")
_INNER_DOLLAR = re.compile(r"\$(?<=[a-z0-9]\$)(?:\(\)|\{?[@*#?!0-9]\}?)(?:[a-z0-9]|\s)")


def _inner_expansion(low: str) -> bool:
    """Whether an empty expansion stands between two characters of a word: pi``ng, cu$@rl.

    Two patterns, each led by its literal: as one, led by a class, 20-60 us a value.
    """
    return _INNER_DOLLAR.search(low) is not None or _INNER_TICKS.search(low) is not None


# Shell builtins whose arguments have a shape of their own.
_GRAMMAR: Final = {
    "alias": re.compile(r"\s+['\"]?[^\s='\"]+['\"]?=\S"),
    "at": re.compile(r"\s+\d{1,2}:\d{2}\s+['\"]"),  # at 2:00 "command": a quoted job
    "trap": re.compile(r"\s+['\"][^'\"]+['\"]\s+(?:sig)?[a-z]+"),
}
_EDITOR_ESCAPE = re.compile(r"\\!\s*([a-z][\w.-]{0,30})")
_DELAY_ONLY = re.compile(r"\s+\d{1,4}\s*\Z")
# A Python interpreter running an installed module, the value's whole command line: "python
# -m http.server", "python3 -m pip install x". After a separator it is still a command.
_PYTHONS: Final = frozenset({"python", "python2", "python3"})
_MODULE_RUN = re.compile(r"\s+-m\s*+[a-z_][a-z0-9_.]*+(?:\s|\Z)")
_LEAD_WORD = re.compile(r"[a-z0-9._-]+")
# Characters the shell removes or expands inside a word: c'a't, c\\at, c$@at, pi``ng.
_WORD_BREAKERS: Final = frozenset("'\"\\^$`")
_NOISE_CHARS = re.compile(r"['\"\\^]")
_SPLIT_CHARS = re.compile(r"[;|&\n\r`$%\\{]")
_IFS = re.compile(r"\$\{?ifs\}?(?:\$\d)?")
# Expansions that are empty in practice ($@, $9, ``, $()) hide a command inside a word.
_EMPTY_EXPANSION = re.compile(
    r"\$\{?[@*#?!$_0-9-]\}?(?![a-z(])|\$[@*#?!0-9]|``|\$\(\)|\$\{[a-z_][a-z0-9_]*:\d+:\d+\}"
)
# The same without "``": led by the literal "$", a fast scan. With "``" as well the pattern
# is led by a character class, scanned a character at a time (45 us over 10,000).
_DOLLAR_EXPANSION = re.compile(
    r"\$(?:\{?[@*#?!$_0-9-]\}?(?![a-z(])|[@*#?!0-9]|\(\)|\{[a-z_][a-z0-9_]*:\d+:\d+\})"
)


def _drop_empty_expansions(text: str) -> str:
    """*text* without the expansions of `_EMPTY_EXPANSION`, each removed once.

    Only "``" is one without a "$", and none holds a character of the other kind, so the
    pattern finds the "``" that str.replace finds and the matches of `_DOLLAR_EXPANSION`.
    Those are found with each "``" held by a NUL, which no "$" form can read as part of it
    or as its end any differently: removed at once, the backticks would join anew ("$``9"
    would become "$9", then "").
    """
    if text.rfind("``") < 0:  # faster than "in" on long text (see contains_any)
        return _DOLLAR_EXPANSION.sub("", text)
    if "\x00" in text:
        return _EMPTY_EXPANSION.sub("", text)
    return _DOLLAR_EXPANSION.sub("", text.replace("``", "\x00")).replace("\x00", "")


# Quotes and escapes inside a word (c'a't) or before the first letter ('cat): the inner runs
# by a pattern led by a character class (the engine scans for it; a look-behind first made it
# try every position) that checks the letter before the run after its first character, the
# leading run apart. No group: the replacement is a constant, with no call per match.
_INNER_WORD_NOISE = re.compile(r"""['"\\^](?<=[a-z0-9]['"\\^])['"\\^]*(?=[a-z0-9])""")
_LEADING_WORD_NOISE = re.compile(r"""['"\\^]+(?=[a-z])""")


# `_INNER_WORD_NOISE` for runs led by each character: each pass removes whole runs between
# two word characters, which leaves every other run and its neighbours as they were, so the
# passes one after another remove what the one pattern removes. Each is led by a literal
# (a fast scan); the one pattern is scanned a character at a time (45 us over 10,000).
_INNER_NOISE_BY_LEAD: Final = tuple(
    (
        char,
        re.compile(
            re.escape(char) + r"""(?<=[a-z0-9]""" + re.escape(char) + r""")['"\\^]*(?=[a-z0-9])"""
        ),
    )
    for char in "'\"\\^"
)


def _drop_inner_noise(text: str) -> str:
    """*text* without the runs of `_INNER_WORD_NOISE`."""
    if len(text) <= LONG_TEXT:
        return _INNER_WORD_NOISE.sub("", text)
    for char, pattern in _INNER_NOISE_BY_LEAD:
        if char in text:
            text = pattern.sub("", text)
    return text


def _strip_word_noise(segment: str) -> str:
    """Remove the quotes and escapes the shell would remove from the words of *segment*."""
    lead = _LEADING_WORD_NOISE.match(segment)
    if lead is not None:
        segment = segment[lead.end() :]
    return _drop_inner_noise(segment)


# Commands whose harmless English use never has these subcommands after them.
_SUBCOMMANDS: Final = {
    "net": frozenset(
        {"user", "view", "localgroup", "share", "use", "group", "session", "accounts"}
    ),
    "reg": frozenset({"add", "query", "delete", "save", "export"}),
    "sc": frozenset({"query", "create", "config", "start", "stop", "qc"}),
    "ip": frozenset({"a", "addr", "address", "route", "link", "neigh"}),
    "netsh": frozenset({"firewall", "advfirewall", "interface", "wlan", "http", "winhttp"}),
}
# Shell constructs that are an attack wherever they appear in a value, each behind the
# substrings it cannot do without (so prose pays for a few ``in`` checks, not the patterns).
_SHELL_NAMES: Final = frozenset({"sh", "bash", "zsh", "ksh", "csh", "dash", "tcsh"})
# Each pattern starts with a literal, so the search is a fast scan; the word before it is
# checked by hand where it matters.
_SHELL_C = re.compile(r"sh\s+-c\b")
# A function definition with a pipe or "&" in its body: () { x | y; }; ... The body holds
# no brace, for the reason given at `_SHELLSHOCK` (2.6 ms over "(){" x 3,333), and its
# part up to the last "|" or "&" within reach is taken once (atomic): one further left
# leaves more to the "}", which the possessive rest cannot cover then either.
_FUNCTION_PIPE = re.compile(r"\(\)\s*\{(?>[^{}]{0,128}[|&])[^{}]{0,128}+\}\s*[;\w]")
# A here-string after a word: "[\w.]\s{0,8}<<<", found by the "<<<" that starts each run
# of "<" (a fast scan), the word character before it by a search back from each one. Led by
# the class, the engine tried every position (50 us over 10,000 characters).
_WORD_AND_SPACE = re.compile(r"[\w.]\s{0,8}\Z")


# A "<<<" that starts a run of "<": one later in the run has a "<" before it, not a word.
_RUN_OF_THREE = re.compile(r"<(?<!<<)<<")


def _here_string(low: str) -> bool:
    for run in _RUN_OF_THREE.finditer(low):
        start = run.start()
        if _WORD_AND_SPACE.search(low, max(0, start - 9), start) is not None:
            return True
    return False


# Constructs no legitimate value holds, each behind the substrings it cannot match without
# (or a literal-led pattern where there are many): on long text str.rfind finds or rules
# out a substring in 1-2 us, a pattern's own literal scan takes 3-6 us.
_STRONG_SHELL: Final[
    tuple[tuple[tuple[str, ...] | re.Pattern[str], Callable[[str], object]], ...]
] = (
    (("cmd",), re.compile(r"cmd(?:\.exe)?\s+/[ck]\b").search),
    (("powershell",), re.compile(r"powershell(?:\.exe)?\s+-(?:c|e|enc|nop|command|w)\b").search),
    (
        (" -e", " -c"),
        re.compile(r"nc(?:at)?\b[^;|&\n]{0,128}\s-[ec]\s|netcat\b[^;|&\n]{0,128}\s-[ec]\s").search,
    ),
    (("<!--",), re.compile(r"<!--\s*#\s*(?:exec|include|echo|config)\b").search),
    (("<?php",), re.compile(r"<\?php").search),
    (("shell",), re.compile(r"\$\{?shell\}?\s+-c\b").search),
    (("/tcp/", "/udp/"), re.compile(r"/dev/(?:tcp|udp)/|\$\w+/(?:tcp|udp)/\d").search),
    (("jndi",), re.compile(r"jndi\s*:\s*(?:ldaps?|rmi|dns|iiop|corba|nds|nis|https?)\b").search),
    (("<<<",), _here_string),
    (("${",), re.compile(r"\$\{\s*@?[a-z_]+\s*\(").search),
    (("()",), _FUNCTION_PIPE.search),
    (
        re.compile(r"/(?:etc|bin|usr|proc|var|dev|root|sbin)/"),  # one pass, not eight
        re.compile(
            r"/(?:etc|bin|usr|proc|var|dev|root|s?bin)/(?:[\w.]*(?:\[!?[\w-]+\][\w.]*|\?+\w[\w.?]*)"
            r"|\[!?[\w-]+\])"
        ).search,
    ),
)


# Every literal the patterns above cannot match without, in one pattern: on a short value one
# search that usually fails costs less than a pass for each rule (on a long one, the other
# way round: the pattern has no literal to lead it).
_STRONG_GATE = re.compile(
    r"cmd|powershell|-[ec]\s|<!--|<\?php|shell|/(?:tcp|udp)/|jndi|<<<|\$\{|\(\s*\)"
    r"|/(?:etc|bin|usr|proc|var|dev|root|sbin)/|sh\s+-c"
)


def _strong_shell(low: str) -> bool:
    if len(low) <= LONG_TEXT and _STRONG_GATE.search(low) is None:
        return False
    if low.rfind("-c") >= 0:  # faster than "in" on long text (see contains_any)
        for match in _SHELL_C.finditer(low):
            word = _WORD_BEFORE.search(low, max(0, match.start() - 4), match.start() + 2)
            if word is not None and word.group() in _SHELL_NAMES:
                return True
    for gate, check in _STRONG_SHELL:
        if isinstance(gate, tuple):
            if contains_any(low, gate) and check(low):
                return True
        elif gate.search(low) is not None and check(low):
            return True
    return False


_WORD_BEFORE = re.compile(r"[a-z]*sh\Z")


# What follows "==" in a batch IF: one operand (quoted, in balanced parentheses, or a run of
# other characters; atomic, without "=": each "==" of "a==a==...:" is tried once), then
# the end of the value, "(" or a command. Code compares the same way and goes on otherwise:
# a colon (Python's "if __name__ == '__main__':"), a brace or a closing parenthesis of a C
# condition ("if (a == b) {"), "and"/"or"/"then" (Python, Lua).
_BATCH_EQUALS: Final = (
    r"""\s*(?>"[^"]*+"|'[^']*+'|\([^\s"():]*+\)|[^\s"():=]++)"""
    r"""(?=[ \t]*\Z|[ \t]*\(|[ \t]+(?!(?:and|or|then|is|in|not)\b|&&|\|\|)[^\s{:])"""
)
# cmd.exe batch grammar: IF [/I] [NOT] EXIST|DEFINED|ERRORLEVEL|x==y ..., FOR %%G IN (...) DO,
# matched where a command starts (see `_batch_command`). The first operand is possessive and
# ends before "==" ("red===red" splits as "red=" and "red"): as a run of any non-space it was
# given back a character at a time (0.4 ms over "if " and 10,000 letters).
_BATCH = re.compile(
    r"\s*+(?:if\s*(?:/i\s+)?(?:not\s+)?(?:exist|defined|errorlevel|cmdextversion"
    r"|(?:\"[^\"]*+\"|[^\s=]++=?)\s*(?:\s(?:equ|neq|lss|leq|gtr|geq)\s|==" + _BATCH_EQUALS + "))"
    r"|for\s+(?:/[a-z]\s+)*(?:\"[^\"]*\"\s+|\S+\s+)?%%?[\w@~/\[\]-]*\s+in\s*\()"
)
_SEPARATOR_RUN = re.compile(r"[&|]++")


def _batch_command(low: str) -> bool:
    r"""Whether *low* starts with a batch command, or has one after its first run of & or |.

    Two anchored matches: as one pattern searched from the start ("^\s*(?:[^&|]*[&|]+)?")
    the engine read the text up to the first & or | a character at a time (50 us over
    10,000 characters); find() does it at C speed.
    """
    if _BATCH.match(low) is not None:
        return True
    amp, bar = low.find("&"), low.find("|")
    cut = min(amp, bar) if amp >= 0 and bar >= 0 else max(amp, bar)
    if cut < 0:
        return False
    after = _SEPARATOR_RUN.match(low, cut)
    return after is not None and _BATCH.match(low, after.end()) is not None


# Programs that run the command named after them: strace whoami, time ifconfig, which wget.
# (sudo is left out: "sudo apt-get install ..." fills installation guides.)
_WRAPPERS: Final = frozenset(
    {
        "strace",
        "ltrace",
        "time",
        "nohup",
        "nice",
        "which",
        "watch",
        "busybox",
        "exec",
        "env",
    }
)
_LEADING_VARS = re.compile(r"^(?:\s*\$\{?[a-z_]\w*\}?)+\s+")
_STOPWORDS: Final = frozenset(
    {
        "the",
        "a",
        "an",
        "this",
        "that",
        "see",
        "use",
        "and",
        "or",
        "but",
        "with",
        "for",
        "to",
        "of",
        "in",
        "on",
        "is",
        "are",
        "was",
        "not",
        "no",
        "it",
        "you",
        "we",
        "i",
        "they",
        "he",
        "she",
    }
)
_BRACE = re.compile(r"\{(,?)\s*([\w$\"'/.-]{1,64})(,[^{}]{0,256})?\}")
# A brace expansion inside the first word of a command line: its first expansion is the
# command (c{a,oun}t runs "cat count", {l,-lh}s runs "ls -lhs"). Led by the "{" (a fast scan;
# led by the letters before it, re tried every position: 4 M instructions over 10,000
# characters); the letters before it are read back by `_brace_word`.
_BRACE_WORD = re.compile(r"\{([a-z]{1,16}),[^{}\s]{0,64}\}([a-z]{0,8})(?=[\s;&|)`]|$)")
_WORD_START: Final = frozenset(" \t\n\r\f\v;&|`(\x1f")


def _brace_word(low: str, brace: re.Match[str]) -> str:
    """The first word a `_BRACE_WORD` match expands to, or "" when it starts no word.

    The word is the letters before the "{" (up to 8, at the start of the value or after
    whitespace or a separator), the first alternative, and the letters after the "}".
    """
    start = brace.start()
    begin = start
    while begin > 0 and start - begin < 8 and "a" <= low[begin - 1] <= "z":
        begin -= 1
    if begin > 0 and low[begin - 1] not in _WORD_START:
        return ""  # a longer word, or one glued to other characters
    return low[begin:start] + brace.group(1) + brace.group(2)


_SEPARATED_FLAGS = re.compile(r"^\s?([a-z][\w.-]*)(?:\s+[\w.-]+)?\s+-{1,2}[a-z]")
_ARG_EVIDENCE = re.compile(
    r"""^(?:\s*(?:-{1,2}[a-z0-9]|/[a-z?*\[]|[a-z]:\\|~/|\.{1,2}/|\$|%[a-z]+%"""
    r"""|[<>]{1,2}\s*[/~&$]|<<<|>\s*[\w./-]+\.(?:php|sh|jsp|aspx?|py|pl|cgi|exe)|[a-z]:/"""
    r"""|[a-z]:(?:\s|$)|/(?:\s|$|;)"""
    r"""|\d+\s*(?:$|[;&|])"""
    r"""|\d+$|[a-z0-9_.-]+\.(?:txt|sh|ini|log|conf|php|exe|bat|py|pl|dll|cfg|xml)\b)"""
    r"""|\s+(?:-[a-z]|/[a-z?*\[]|\$|%))"""
)
# Evidence strong enough for a value that is a whole command line with no separator.
_STRONG_ARG = re.compile(r"""^\s+(?:-{1,2}[a-z]|/[a-z?*\[]|/(?:;|\s*$)|[a-z]:[\\/]|~/|https?://)""")
# A program by its path: in a bin or sbin directory (/usr/lib/x.py and /usr/share/doc/ are
# files, not commands), or under C:\\Windows\\.
_PATH_COMMAND = re.compile(r"^(?:/?(?:usr/(?:local/)?)?s?bin/[a-z0-9_.-]+|[a-z]:\\windows\\)")
_SUBSTITUTED_NAME = re.compile(r"[a-z0-9_./-]+")
# $(...), <(...), >(...), `...`, ${name}: led by one character class, each branch then
# checks its own first character by a look-behind. As three branches (one led by a class)
# the engine found no first character to scan for and tried every position (140 us).
_SUBSTITUTION = re.compile(
    r"[$<>`](?:(?<=[$<>])\(\s*[a-z/][^)]{0,256}\)|(?<=`)\s*[a-z/][^`]{0,256}`|(?<=\$)\{[a-z_]+\})"
)
# The same, a pattern for each kind led by its literal, for long text: random punctuation has
# a "$", "<", ">" or backtick every ten characters, and `_SUBSTITUTION` tries a match at
# each (1 M instructions over 10,000 characters); a kind is mostly absent or rare.
_SUBSTITUTION_KINDS: Final = tuple(
    (lead, re.compile(re.escape(lead) + rest))
    for lead, rest in (
        ("$(", r"\s*[a-z/][^)]{0,256}\)"),
        ("<(", r"\s*[a-z/][^)]{0,256}\)"),
        (">(", r"\s*[a-z/][^)]{0,256}\)"),
        ("${", r"[a-z_]+\}"),
        ("`", r"\s*[a-z/][^`]{0,256}`"),
    )
)


def _substitutions(low: str) -> list[re.Match[str]]:
    """The matches of `_SUBSTITUTION` in *low*, in order.

    On long text, the first match of each kind from where the last match ended, the
    leftmost taken: what the one pattern reads, which goes on from the end of each match
    and takes the leftmost of its branches. A kind whose first match starts inside the one
    taken (a backtick in a "$(" body) is searched again from its end. Past `_MERGED_MATCHES`
    the Python step a match costs more than the one pattern's scan.
    """
    if len(low) <= LONG_TEXT:
        return list(_SUBSTITUTION.finditer(low))
    heads: list[tuple[re.Match[str], re.Pattern[str]]] = []
    for lead, pattern in _SUBSTITUTION_KINDS:
        if low.rfind(lead) >= 0:  # faster than the pattern's own scan for an absent kind
            first = pattern.search(low)
            if first is not None:
                heads.append((first, pattern))
    if len(heads) == 1:
        first, pattern = heads[0]
        return [first, *pattern.finditer(low, first.end())]
    merged: list[re.Match[str]] = []
    while heads:
        if len(merged) == _MERGED_MATCHES:
            return list(_SUBSTITUTION.finditer(low))
        match = min(heads, key=_head_start)[0]
        merged.append(match)
        position = match.end()
        following: list[tuple[re.Match[str], re.Pattern[str]]] = []
        for head in heads:
            if head[0].start() >= position:
                following.append(head)
            else:  # the match taken, or one inside it
                pattern = head[1]
                after = pattern.search(low, position)
                if after is not None:
                    following.append((after, pattern))
        heads = following
    return merged


_MERGED_MATCHES: Final = 64


def _head_start(head: tuple[re.Match[str], re.Pattern[str]]) -> int:
    return head[0].start()


_PHP_SUPERGLOBAL = re.compile(r"\{\s*\$_(?:get|post|request|cookie|server)\s*\[")
_PHP_WORDS: Final = ("system", "exec", "passthru", "popen", "proc_open", "phpinfo")
# A call of a PHP function that runs a command, with a string, variable or backtick for an
# argument (system('id'), exec($c)), or phpinfo(). Every branch starts with a letter and
# checks the word boundary before it by a look-behind: the engine scans for the three first
# letters; with \b first it tried a match at every position (200 us over 10,000 characters).
_PHP_CALL = re.compile(
    r"s(?<=\bs)(?:ystem|hell_exec)\s*\(\s*['\"$`]"
    r"|p(?<=\bp)(?:assthru|open|roc_open|cntl_exec)\s*\(\s*['\"$`]"
    r"|e(?<=\be)xec\s*\(\s*['\"$`]"
    r"|p(?<=\bp)hpinfo\s*\(\s*\)"
)
# A function definition whose body ends in ";": () { :; }; and friends. The body holds no
# brace: with "{" allowed in it, the bodies of "(){(){..." overlapped and each was read to
# its 256-character limit (0.8-1.9 ms over 10,000 characters); now each stops at the next
# brace, and the text is read about once. (Bodies that stop where the next definition
# starts instead lost the fork bomb "f(){ f() | f(); }; f" of the corpora.)
_SHELLSHOCK = re.compile(r"\(\s*\)\s*\{\s*[^{}]{0,256};\s*\}\s*;|\(\s*\)\s*\{\s*:\s*;\s*\}")
_WINDOWS_VAR = re.compile(r"%(?:comspec|systemroot|windir|programfiles|userprofile|temp|appdata)%")
_GLOB_PATH = re.compile(r"/(?:[a-z?*\[\]!]*[?*\[][a-z?*\[\]!]*)/(?:[a-z?*\[\]!]+)")


# What a `_SUBSTITUTION` match opens with before its body ("$(", "<(", "`", "${") and spaces.
_BODY_LEAD: Final = "$(`{< "


def _may_substitute_command(substitutions: Iterable[str]) -> bool:
    """Whether a body of *substitutions* (`_SUBSTITUTION` matches) names a command, normalised.

    The bodies, normalised as `_normalise` does each one, all at once: the command word is
    the run of name characters each starts with, so one findall finds them all. Values with
    hundreds of "$(" (random punctuation) skip a normalisation per body (120 us over 10,000
    characters); when this says yes, each body is looked at as before.
    """
    bodies = "\x1f".join(map(str.lstrip, substitutions, repeat(_BODY_LEAD)))
    if not bodies:
        return False
    if "$" in bodies:
        bodies = _IFS.sub(" ", bodies)
    if "$" in bodies or "`" in bodies:
        bodies = _drop_empty_expansions(bodies)
    if _NOISE_CHARS.search(bodies):
        # The inner runs, then the leading run of each body (the order makes no difference:
        # an inner run has a letter before it). A \x1f inside a body only adds starts.
        bodies = _LINE_LEADING_NOISE.sub("\x1f", "\x1f" + _drop_inner_noise(bodies))
    else:
        bodies = "\x1f" + bodies
    if contains_any(bodies, _PATH_COMMAND_HINTS):
        return True  # _PATH_COMMAND cannot match without one
    return not _COMMANDS.isdisjoint(_LINE_START_NAME.findall(bodies))


def _substitutes_command(low: str, subs: list[re.Match[str]]) -> bool:
    """Whether one of *subs* (in *low*) runs a command.

    That is: its body, normalised, starts with a command name or path, and a backtick one
    stands where a command can (first, or after a separator, a quote, "=" or a space). The
    place first, a test of one character; each body once: "/..`id` " x 1,250 put
    every body through the normalisation (1.1 ms).
    """
    seen: dict[str, bool] = {}
    for sub in subs:
        text = sub.group()
        start = sub.start()
        if text[0] == "`" and start and low[start - 1] not in "=;|&(\"' ":
            continue
        runs = seen.get(text)
        if runs is None:
            body = _normalise(text.lstrip(_BODY_LEAD))
            name = _SUBSTITUTED_NAME.match(body)
            runs = seen[text] = name is not None and (
                name.group() in _COMMANDS or _PATH_COMMAND.match(body) is not None
            )
        if runs:
            return True
    return False


# `_LEADING_WORD_NOISE` and `_SUBSTITUTED_NAME` at the start of each \x1f-separated body.
_LINE_LEADING_NOISE = re.compile(r"""\x1f['"\\^]+(?=[a-z])""")
_LINE_START_NAME = re.compile(r"\x1f([a-z0-9_./-]+)")


def _normalise(segment: str) -> str:
    if "$" in segment:
        segment = _IFS.sub(" ", segment)
    if "$" in segment or "`" in segment:
        segment = _drop_empty_expansions(segment)
    if _NOISE_CHARS.search(segment):
        segment = _strip_word_noise(segment)
    return segment


def _command_at(segment: str, *, separated: bool) -> str | None:
    """The command name a segment starts with, when the rest makes it a command line."""
    # Only the start matters: the command word and the shape of its first argument.
    seg = segment[:96]
    parenthesised = seg.lstrip().startswith("(")
    seg = seg.lstrip(" \t'\"(@{+" if separated else " \t")
    if not seg or not (seg[0].isalnum() or seg[0] in "/\\.$`{[~_'\""):
        return None
    if "+" in seg and " " not in seg[:24]:
        seg = seg.replace("+", " ")  # form encoding: ;+cat+/etc/passwd
    lead = _LEAD_WORD.match(seg, len(seg) - len(seg.lstrip("'\"")))
    if lead is not None and lead.group() not in _COMMANDS and lead.group() not in _WRAPPERS:
        after = seg[lead.end() : lead.end() + 1]
        if after not in _WORD_BREAKERS and not _PATH_COMMAND.match(seg):
            return None  # a plain word that is no command, and nothing rewrites it into one
    head = seg.split(None, 1)[0].lstrip("'\"")
    evasive = _INNER_NOISE.search(head) is not None
    seg = _normalise(seg).lstrip(" \t'\"(@{" if separated else " \t")
    if not seg:
        return None
    if seg[0] == "$":
        seg = _LEADING_VARS.sub("", seg)  # ;$a cat ...: an unset variable expands to nothing
    path_cmd = _PATH_COMMAND.match(seg)
    if path_cmd:
        return path_cmd.group()
    end = 0
    n = len(seg)
    while end < n and (seg[end].isalnum() or seg[end] in "._-"):
        end += 1
    word = seg[:end]
    if not word or (word not in _COMMANDS and word not in _WRAPPERS):
        return None
    if evasive and word in _COMMANDS and (len(word) > 2 or head.startswith("\\")):
        return word  # w'h'o'am'i, c$@at, \ls: the shell's own evasions, no word does that
    rest = seg[end:]
    if rest and not rest[0].isspace() and rest[0] not in "<>;|&\"'$)`,%+":
        return None  # "cats", "id=3": a longer word, not the command
    if parenthesised and rest.startswith(")"):
        return None  # "(gdb) backtrace": a prompt or an aside, not a subshell
    if rest[:1] in ("'", '"') and separated:
        rest = ""  # the quote of the attribute or argument the value sat in
    if word in _WRAPPERS:
        following = rest.split(None, 1)
        if following and following[0] in _COMMANDS:
            return word  # strace whoami, nohup ifconfig, which wget
        if word not in _COMMANDS:
            return None
    if word in _GRAMMAR and _GRAMMAR[word].match(rest):
        return word  # alias x='curl', at 2:00 "...", trap 'rm ...' EXIT
    if word in _SUBCOMMANDS:
        following = rest.split(None, 1)
        return word if following and following[0] in _SUBCOMMANDS[word] else None
    if not separated:
        if word in _PROGRAMS and rest.strip():
            return word  # ansible-playbook site.yml: a tool no sentence starts with, and its args
        if word in ("sleep", "ping", "timeout") and _DELAY_ONLY.match(rest):
            return word  # "sleep 5": the whole value is a time-based probe
        if word in _PYTHONS and _MODULE_RUN.match(rest):
            return None  # "python -m venv .venv": what every Python guide tells its readers
        return word if _STRONG_ARG.match(rest) else None
    if word not in _AMBIGUOUS:
        return word
    if not rest.strip(" \t'\")`"):
        return word if word in _BARE_OK else None
    if _ARG_EVIDENCE.match(rest):
        if word in ("sleep", "ping", "timeout", "waitfor") or not rest.lstrip()[:1].isdigit():
            return word
        return None
    return None


# With fewer parts, checking each one costs less than finding out which to check.
_GATE_MIN_PARTS: Final = 32
# Whitespace, then a flag: what _SEPARATED_FLAGS needs somewhere in a part. Led by the
# dash, the whitespace before it checked by a look-behind (led by \s, the engine stopped at
# every space). A match now starts at the dash, in the part the flag is in: when the
# whitespace is the \x1f between two parts, it used to count for the part before, which
# _SEPARATED_FLAGS cannot match on that account (it needs the whitespace in the part).
_FLAG_GATE = re.compile(r"-(?<=\s-)-?[a-z]")
_COMMAND_NAMES: Final = _COMMANDS | _WRAPPERS
_PATH_COMMAND_HINTS: Final = ("bin/", ":\\windows\\")
# A command name `_command_at` can read at the start of a part of the lines joined by \x1f
# once they are normalised as `_normalise` normalises one: after a separator, what it strips
# before the word (spaces, quotes, "(", "@", "{", the "+" of form encoding, a leading
# backslash or caret), the unset variables it drops ($a cat), then a name ending the run of
# name characters. Each class is a superset of what `_command_at` strips at that point, so
# where it finds a command this pattern matches (and sometimes where it rejects one). No
# part of it but the first matches a \x1f, so a match belongs to the part it starts. Led by
# the \x1f, with the class of a first character checked before the names: 0.1-0.2 us a part
# (the command names anywhere, then the parts holding them, cost 0.3-0.4 ms over 10,000
# characters of random text). The names are a trie, compiled at import (5 ms).
_FIRST_COMMAND = re.compile(
    r"""\x1f[ \t'"(@{+\\^]*+(?=[a-z0-9$])"""
    r"""(?:\$\{?[a-z_]\w*+\}?(?:[^\S\x1f]|\+)*+)*+"""
    r"(?:" + trie_pattern(_COMMAND_NAMES) + r")(?![a-z0-9._-])"
)


def _parts_naming_commands(parts: list[str], lines: str) -> set[int] | None:
    """The indexes of *parts* where `_command_at` could find a command; None: any of them.

    It only ever returns a word of `_COMMANDS` or `_WRAPPERS` that starts a part once the
    part is normalised as `_normalise` does it (after the characters it strips, and unset
    variables), or a `_PATH_COMMAND`; and it looks at the first 96 characters of a part.
    So: the same normalisation over those characters of every part at once, then one
    pattern for a command name at the start of a part (`_FIRST_COMMAND`).
    """
    if max(map(len, parts)) > 96:  # most lines are short: *lines*, the parts joined, serves
        lines = "\x1f".join([part[:96] for part in parts])
    joined = _IFS.sub(" ", lines)
    if "$" in joined or "`" in joined:
        joined = _drop_empty_expansions(joined)
    if _NOISE_CHARS.search(joined):
        joined = _strip_word_noise(joined)
    if contains_any(joined, _PATH_COMMAND_HINTS):
        return None
    return _indexes("\x1f" + joined, _FIRST_COMMAND)


def _indexes(joined: str, pattern: re.Pattern[str]) -> set[int]:
    """Which separator-delimited parts of *joined* hold a match of *pattern*.

    A match that starts with a separator belongs to the part after it: the count is of the
    separators before the match.
    """
    indexes: set[int] = set()
    index = position = 0
    for match in pattern.finditer(joined):  # counting on from the last match: linear
        start = match.start()
        index += joined.count("\x1f", position, start)
        position = start
        indexes.add(index)
    return indexes


def _hides_command(lines: str) -> bool:
    """Whether a command line of *lines* (joined by unit separators) starts with a command.

    That is: its first word, quotes stripped from its ends, is in `_COMMANDS`. One search
    of `_FIRST_WORD_COMMAND` over the lines joined (a Python step per line cost 280 us on
    10,000 characters; a findall of every first word, 0.1 us a line to build the list).
    """
    return _FIRST_WORD_COMMAND.search("\x1f" + lines) is not None


# After a line separator (\x1f; itself a space to \s), the spaces and quotes before the
# first word, a command name, quotes, then the end of the word: \s is what str.split()
# splits on. No name character follows the name, so it is the whole run of them.
# The spaces are those of the line only ([^\S\x1f], possessive): \s* ran on over the next
# separators and gave them back one at a time, at every separator of a run of them.
_FIRST_WORD_COMMAND = re.compile(
    r"""\x1f[^\S\x1f]*+['"]*+(?=[a-z0-9])(?:""" + trie_pattern(_COMMANDS) + r""")['"]*+(?=\s|\Z)"""
)


def command_reason(text: str, *, gate: bool = True) -> str | None:
    """Why *text* (decoded and lower-cased) is a command injection, or None.

    *gate* False runs every per-part check (the tests compare both ways).
    """
    reason = _command_reason(text, gate=gate)
    if (
        reason is None
        and len(text) <= _RESOLVE_LIMIT
        and "$" in text
        and "=" in text
        and (resolved := _resolve_variables(text)) != text
        and _command_reason(resolved, gate=gate) is not None
    ):
        return "command assembled from variables"
    return reason


# A command spelled by variables it sets first: a=/etc&&b=/passwd&&c=cat&&$c $a$b. Each
# assignment (a name, "=", a quoted or unquoted word) is read, and every $name or ${name} of
# a name set is replaced by its value; the result is checked again. Such payloads are short:
# past this length the substitution (a Python call per "$") is not worth its cost.
_RESOLVE_LIMIT: Final = 2048
_ASSIGNMENT = re.compile(
    r"""(?<![\w$])([a-z_][a-z0-9_]{0,31})=('[^']{0,64}'|"[^"]{0,64}"|(?:\\.|[^\s;&|'"`$\\]){0,64})"""
)
_EXPANSION = re.compile(r"\$(?:\{([a-z_][a-z0-9_]{0,31})\}|([a-z_][a-z0-9_]{0,31}))")
_ESCAPE = re.compile(r"\\(.)")


def _resolve_variables(low: str) -> str:
    """*low* with each ``$name`` of a variable it assigns replaced by the value assigned last."""
    values: dict[str, str] = {}
    for assignment in _ASSIGNMENT.finditer(low):
        value = assignment.group(2)
        if value[:1] in ("'", '"'):
            value = value[1:-1]
        elif "\\" in value:
            value = _ESCAPE.sub(r"\1", value)  # c4=\ : a space
        values[assignment.group(1)] = value
    if not values:
        return low

    def value_of(expansion: re.Match[str]) -> str:
        name = expansion.group(1) or expansion.group(2)
        return values.get(name, expansion.group())

    return _EXPANSION.sub(value_of, low)


def _command_reason(text: str, *, gate: bool) -> str | None:
    """`command_reason` without the variables a value sets."""
    low = text  # lower-cased by the engine
    if " " not in low and "+" in low:
        low = low.replace("+", " ")  # form encoding: dir+c:/
    # Substrings by rfind: on long text "in" takes 5-8 us a check, rfind 1-2 (see
    # contains_any); on short text the difference is a few nanoseconds.
    if low.rfind("\\033[") >= 0 or low.rfind("\x1b[") >= 0:
        low = _ANSI_ESCAPE.sub("", low)  # terminal escapes that hide what follows
    if _strong_shell(low):
        return "shell construct"
    if low.rfind("\\!") >= 0:
        for escape in _EDITOR_ESCAPE.finditer(low):
            if escape.group(1) in _COMMANDS:
                return "editor shell escape"  # vi's :!whoami
    split: list[str] | None = None  # the command lines of low, once it is final
    distinct: list[str] | None = None  # the same, each once (the first keeps its place)
    lines = ""  # those joined by \x1f, once computed
    if "$" in low or "`" in low:
        hidden = _inner_expansion(low)
        expanded = _drop_empty_expansions(low)
        if expanded != low:
            low = expanded
            if _strong_shell(low):
                return "shell construct"
        if hidden:
            split = _split_commands(low)
            distinct = [split[0], *dict.fromkeys(split[1:])]
            lines = "\x1f".join(distinct)
            if _hides_command(lines):
                return "command hidden by an empty expansion"
    if _batch_command(low):
        return "batch command"
    if "{" in low and "," in low and "}" in low:
        for brace in _BRACE.finditer(low):
            if (brace.group(1) or brace.group(3)) and brace.group(2).strip("$\"'") in _COMMANDS:
                return "brace expansion"
        for brace in _BRACE_WORD.finditer(low):
            if _brace_word(low, brace) in _COMMANDS:
                return "brace expansion"  # c{a,oun}t and {l,-lh}s: the first word is the command
    if "{" in low and "(" in low and _SHELLSHOCK.search(low):
        return "shellshock function definition"
    # Process substitution, <(cmd), runs a command without "$" or a backtick. (">(" is left
    # out: it is the angry face of ">(who cares)"; its bodies keep their ">" and name none.)
    if "$" in low or "`" in low or low.rfind("<(") >= 0:
        subs = _substitutions(low)  # one scan serves the batch check and the loop
        if (
            subs
            and _may_substitute_command(map(re.Match.group, subs))
            and _substitutes_command(low, subs)
        ):
            return "command substitution"
        if low.rfind("${ifs") >= 0 or low.rfind("$ifs") >= 0:
            return "IFS evasion"
    if "(" in low and contains_any(low, _PHP_WORDS) and _PHP_CALL.search(low):
        return "code execution call"
    if "_" in low and "{" in low and "{$_" in low.replace(" ", "") and _PHP_SUPERGLOBAL.search(low):
        return "code execution call"
    if "%" in low and _WINDOWS_VAR.search(low):
        return "windows environment variable"
    if split is None:
        split = [low] if _SPLIT_CHARS.search(low) is None else _split_commands(low)
    parts = split
    quote = _LEADING_QUOTE.match(parts[0])
    if quote is not None:  # ' whoami: the value closes a quoted argument first
        parts[0:1] = ["", parts[0][quote.end() :]]
        distinct = None
    if len(parts) > 2:  # each distinct command line once (the first keeps its place)
        parts = distinct if distinct is not None else [parts[0], *dict.fromkeys(parts[1:])]
    # Which parts can hold a command (by the words in them) or a flag: on long text with
    # many separators (code, CSS, noise) that skips almost all of the per-part work.
    if gate and len(parts) > _GATE_MIN_PARTS:
        if parts is not distinct or not lines:
            lines = "\x1f".join(parts)  # both gates read the lines joined
        named = _parts_naming_commands(parts, lines)
        flagged = _indexes(lines, _FLAG_GATE)
    else:
        named = flagged = None
    if len(parts) > 1:
        if named is None or flagged is None:
            candidates: Iterable[int] = range(1, len(parts))
        else:
            candidates = sorted((named | flagged) - {0})
        for index in candidates:
            part = parts[index]
            if (named is None or index in named) and _command_at(part, separated=True):
                return "separator followed by a command"
            if flagged is None or index in flagged:
                flags = _SEPARATED_FLAGS.match(part)
                if flags and flags.group(1) not in _STOPWORDS:
                    return "separator followed by a command"
        first = _command_at(parts[0], separated=True) if named is None or 0 in named else None
        if first and (first not in _AMBIGUOUS or first in _BARE_OK):
            return "command before a separator"
    if (named is None or 0 in named) and _command_at(parts[0], separated=False):
        return "command line"
    if "/" in low and _GLOB_PATH.search(low):
        return "glob path"
    return None


PROGRAMS: Final = _PROGRAMS
"""Tool names that start a command line wherever they start a value."""
