/**
 * One error base for every layer (src/errors.ts): each family is a
 * VipdError with a stable VIPD_<LAYER>_<WHAT> code (the control protocol's
 * wire codes excepted, on purpose) and the exit code a process ending on it
 * uses; vipd and vipctl take their exit codes from it.
 */
import { describe, expect, it } from 'vitest';
import { BpfError, PinDirLockedError } from '../../src/bpf/index.js';
import { BirdCommandError } from '../../src/bgp/index.js';
import { CliError, describeFailure } from '../../src/cli/errors.js';
import { ControlError } from '../../src/daemon/control/index.js';
import { exitCodeFor } from '../../src/daemon/main.js';
import { ConfigRejected } from '../../src/daemon/read-config.js';
import { VipdError, exitCodeOf } from '../../src/errors.js';
import { ExitCode } from '../../src/exit-codes.js';
import { NetError, toNetError } from '../../src/net/errors.js';

const errno = (code: string) => Object.assign(new Error(`${code} from the kernel`), { code, errno: 1, syscall: 'socket' });

describe('VipdError: one base, one code scheme, the exit code with it', () => {
  const cases: [string, VipdError, string, ExitCode][] = [
    ['BPF permission', new BpfError('VIPD_BPF_PERMISSION', 'bpf', 'denied'), 'VIPD_BPF_PERMISSION', ExitCode.MissingPrivilege],
    ['BPF map full', new BpfError('VIPD_BPF_NO_SPACE', 'bpf_map_update_elem', 'full'), 'VIPD_BPF_NO_SPACE', ExitCode.Failure],
    ['pin directory held', new PinDirLockedError('/sys/fs/bpf/vipd', 42), 'VIPD_BPF_PIN_DIR_LOCKED', ExitCode.Usage],
    ['net privilege', toNetError(errno('EPERM'), 'opening a raw socket', 'CAP_NET_RAW') as VipdError, 'VIPD_NET_PRIVILEGE', ExitCode.MissingPrivilege],
    ['net errno', toNetError(errno('ENODEV'), 'link eth9', 'CAP_NET_ADMIN') as VipdError, 'VIPD_NET_ENODEV', ExitCode.Failure],
    ['config', new ConfigRejected(['vipd.yaml:3:7: instances[0].vrid: must be in 1..255, got 0']), 'VIPD_CONFIG_REJECTED', ExitCode.Usage],
    ['vipctl usage', new CliError('bad priority', ExitCode.Usage), 'VIPD_CLI_USAGE', ExitCode.Usage],
    ['bird', new BirdCommandError('configure', 8002, 'syntax error'), 'VIPD_BGP_BIRD', ExitCode.Failure],
  ];

  it.each(cases)('%s', (_what, err, code, exitCode) => {
    expect(err).toBeInstanceOf(VipdError);
    expect(err.code).toBe(code);
    expect(err.code).toMatch(/^VIPD_[A-Z]+_[A-Z0-9_]+$/);
    expect(err.exitCode).toBe(exitCode);
    expect(exitCodeOf(err)).toBe(exitCode);
    expect(exitCodeFor(err)).toBe(exitCode);
    expect(describeFailure(err).exitCode).toBe(exitCode);
  });

  it('keeps the errno name beside the code, and a control error keeps its wire code', () => {
    const net = toNetError(errno('EADDRNOTAVAIL'), 'address', 'CAP_NET_ADMIN') as NetError;
    expect(net.errnoName).toBe('EADDRNOTAVAIL');
    const control = new ControlError('NOT_FOUND', "no service 'web'");
    expect(control).toBeInstanceOf(VipdError);
    expect(control.code).toBe('NOT_FOUND');
    expect(describeFailure(control).exitCode).toBe(ExitCode.Usage);
  });

  it('anything else is a runtime failure', () => {
    expect(exitCodeOf(new Error('boom'))).toBe(ExitCode.Failure);
    expect(exitCodeOf('not even an error')).toBe(ExitCode.Failure);
  });
});
