"""A small seccomp-BPF deny list for the code sandbox, compiled without extra libraries.

bubblewrap loads it with ``--seccomp FD`` just before it executes the interpreter.  The filter
refuses (EPERM) the syscalls candidate code never needs and an escape would: new processes,
sockets, namespaces, mounts, tracing, kernel keyrings, BPF.  The network namespace and the
read-only filesystem already contain most of this; the filter is a second wall, and the one
that stops a fork bomb when RLIMIT_NPROC cannot (it counts per uid, host-wide).
"""

from __future__ import annotations

import errno
import platform
import struct

# Syscall numbers per architecture (from the kernel's unistd tables).
_DENY: dict[str, dict[str, int]] = {
    "x86_64": {
        "socket": 41,
        "connect": 42,
        "socketpair": 53,
        "clone": 56,
        "fork": 57,
        "vfork": 58,
        "ptrace": 101,
        "mount": 165,
        "umount2": 166,
        "unshare": 272,
        "setns": 308,
        "keyctl": 250,
        "add_key": 248,
        "request_key": 249,
        "bpf": 321,
        "perf_event_open": 298,
        "userfaultfd": 323,
        "personality": 135,
        "clone3": 435,
        "kexec_load": 246,
        "init_module": 175,
        "finit_module": 313,
        "pivot_root": 155,
        "chroot": 161,
        "process_vm_readv": 310,
        "process_vm_writev": 311,
    },
    "aarch64": {
        "socket": 198,
        "connect": 203,
        "socketpair": 199,
        "clone": 220,
        "ptrace": 117,
        "mount": 40,
        "umount2": 39,
        "unshare": 97,
        "setns": 268,
        "keyctl": 219,
        "add_key": 217,
        "request_key": 218,
        "bpf": 280,
        "perf_event_open": 241,
        "userfaultfd": 282,
        "personality": 92,
        "clone3": 435,
        "kexec_load": 104,
        "init_module": 105,
        "finit_module": 273,
        "pivot_root": 41,
        "chroot": 51,
        "process_vm_readv": 270,
        "process_vm_writev": 271,
    },
}
_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}

# BPF opcodes.
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_RET_K = 0x06
_SECCOMP_RET_ALLOW = 0x7FFF0000
_SECCOMP_RET_ERRNO = 0x00050000
_SECCOMP_RET_KILL_PROCESS = 0x80000000
_OFFSET_NR, _OFFSET_ARCH = 0, 4


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def available() -> bool:
    """Whether a filter can be built for this machine's architecture."""
    return platform.machine() in _DENY


def build_filter() -> bytes:
    """The compiled filter program (struct sock_filter[]) for this architecture.

    Raises:
        RuntimeError: the architecture has no syscall table here.
    """
    arch = platform.machine()
    if arch not in _DENY:
        raise RuntimeError(f"no seccomp syscall table for {arch}")
    numbers = sorted(set(_DENY[arch].values()))
    program = [
        _insn(_LD_W_ABS, 0, 0, _OFFSET_ARCH),
        # A foreign architecture (e.g. 32-bit syscalls on x86_64) is killed outright.
        _insn(_JEQ_K, 1, 0, _AUDIT_ARCH[arch]),
        _insn(_RET_K, 0, 0, _SECCOMP_RET_KILL_PROCESS),
        _insn(_LD_W_ABS, 0, 0, _OFFSET_NR),
    ]
    if arch == "x86_64":
        # x32 ABI syscalls carry bit 30; refuse them all.
        program.append(_insn(0x35, 0, 1, 0x40000000))  # JGE K: jt → next, jf skip
        program.append(_insn(_RET_K, 0, 0, _SECCOMP_RET_ERRNO | errno.EPERM))
    for i, number in enumerate(numbers):
        remaining = len(numbers) - i - 1
        # On match jump to the EPERM return after the remaining comparisons and the ALLOW.
        program.append(_insn(_JEQ_K, remaining + 1, 0, number))
    program.append(_insn(_RET_K, 0, 0, _SECCOMP_RET_ALLOW))
    program.append(_insn(_RET_K, 0, 0, _SECCOMP_RET_ERRNO | errno.EPERM))
    return b"".join(program)
