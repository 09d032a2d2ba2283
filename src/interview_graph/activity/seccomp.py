"""A small seccomp-BPF deny list for the code sandbox, compiled without extra libraries.

bubblewrap loads it with ``--seccomp FD`` just before it executes the interpreter.  The filter
refuses (EPERM) the syscalls candidate code never needs and an escape would: new processes
(threads are allowed), sockets, io_uring, namespaces, mounts, tracing, kernel keyrings, BPF,
System V IPC.  The network namespace and the
read-only filesystem already contain most of this; the filter is a second wall, and the one
that stops a fork bomb when RLIMIT_NPROC cannot (it counts per uid, host-wide).
"""

from __future__ import annotations

import errno
import platform
import struct
import sys

# Syscall numbers per architecture (from the kernel's unistd tables).  Calls from 403 on share
# one number on every architecture.  The groups, and why each is refused:
# - processes and sockets: the fork bomb, the network (io_uring issues socket() for a ring);
# - io_uring: a second syscall interface that this filter cannot see into;
# - namespaces, mounts and file handles (the new mount API, open_by_handle_at's escape);
# - tracing and other processes' memory (ptrace, process_vm_*, pidfd_getfd, kcmp);
# - kernel code and state (modules, kexec, BPF, perf, keyrings, userfaultfd, personality);
# - System V IPC objects, which pin memory outside every rlimit until the sandbox exits.
_COMMON = {
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "pidfd_getfd": 438,
    "process_madvise": 440,
    "mount_setattr": 442,
}
_DENY: dict[str, dict[str, int]] = {
    "x86_64": {
        **_COMMON,
        "socket": 41,
        "connect": 42,
        "socketpair": 53,
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
        "kexec_load": 246,
        "kexec_file_load": 320,
        "init_module": 175,
        "finit_module": 313,
        "delete_module": 176,
        "pivot_root": 155,
        "chroot": 161,
        "process_vm_readv": 310,
        "process_vm_writev": 311,
        "kcmp": 312,
        "name_to_handle_at": 303,
        "open_by_handle_at": 304,
        "shmget": 29,
        "semget": 64,
        "msgget": 68,
    },
    "aarch64": {
        **_COMMON,
        "socket": 198,
        "connect": 203,
        "socketpair": 199,
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
        "kexec_load": 104,
        "kexec_file_load": 294,
        "init_module": 105,
        "finit_module": 273,
        "delete_module": 106,
        "pivot_root": 41,
        "chroot": 51,
        "process_vm_readv": 270,
        "process_vm_writev": 271,
        "kcmp": 272,
        "name_to_handle_at": 264,
        "open_by_handle_at": 265,
        "msgget": 186,
        "semget": 190,
        "shmget": 194,
    },
}
# clone is allowed for threads only (see build_filter); clone3 passes its flags in memory,
# which a filter cannot read, so it answers ENOSYS and glibc falls back to clone.
_CLONE = {"x86_64": 56, "aarch64": 220}
_CLONE3 = 435
_CLONE_THREAD = 0x00010000
# CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET.
_CLONE_NAMESPACES = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000
_CLONE_NAMESPACES |= 0x20000000 | 0x40000000
_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}

# BPF opcodes.
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06
_SECCOMP_RET_ALLOW = 0x7FFF0000
_SECCOMP_RET_ERRNO = 0x00050000
_SECCOMP_RET_KILL_PROCESS = 0x80000000
_OFFSET_NR, _OFFSET_ARCH = 0, 4
# The low 32 bits of the first argument (struct seccomp_data.args[0] starts at byte 16); the
# kernel reads only those bits of clone's flags.
_OFFSET_ARG0_LOW = 16 if sys.byteorder == "little" else 20


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
    deny = _RET_K, 0, 0, _SECCOMP_RET_ERRNO | errno.EPERM
    if arch == "x86_64":
        # x32 ABI syscalls carry bit 30; refuse them all.
        program.append(_insn(_JGE_K, 0, 1, 0x40000000))
        program.append(_insn(*deny))
    program += [
        # clone: a thread (CLONE_THREAD, no new namespace) is allowed, any new process is not.
        # RLIMIT_NPROC, set by the sandbox's harness, caps how many threads.
        _insn(_JEQ_K, 0, 5, _CLONE[arch]),
        _insn(_LD_W_ABS, 0, 0, _OFFSET_ARG0_LOW),
        _insn(_JSET_K, 2, 0, _CLONE_NAMESPACES),
        _insn(_JSET_K, 0, 1, _CLONE_THREAD),
        _insn(_RET_K, 0, 0, _SECCOMP_RET_ALLOW),
        _insn(*deny),
        _insn(_JEQ_K, 0, 1, _CLONE3),
        _insn(_RET_K, 0, 0, _SECCOMP_RET_ERRNO | errno.ENOSYS),
    ]
    for i, number in enumerate(numbers):
        remaining = len(numbers) - i - 1
        # On match jump to the EPERM return after the remaining comparisons and the ALLOW.
        program.append(_insn(_JEQ_K, remaining + 1, 0, number))
    program.append(_insn(_RET_K, 0, 0, _SECCOMP_RET_ALLOW))
    program.append(_insn(*deny))
    return b"".join(program)
