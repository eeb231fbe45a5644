// Reads process and machine figures from /proc (Linux only).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';

let clkTck: number | undefined;

/** Clock ticks per second, as `getconf CLK_TCK` reports (nearly always 100). */
export function clockTicks(): number {
  if (clkTck === undefined) {
    try {
      const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
      clkTck = Number.isInteger(n) && n > 0 ? n : 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

export interface CpuTimes {
  /** user + system seconds */
  total: number;
  /** system (kernel) seconds alone */
  sys: number;
}

/** CPU seconds used so far by a process (all its threads). */
export function cpuTimes(pid: number): CpuTimes {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may hold spaces, so
  // split after its closing one: the rest starts at field 3 (state).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[14 - 3]);
  const stime = Number(fields[15 - 3]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`cannot parse /proc/${pid}/stat`);
  return { total: (utime + stime) / clockTicks(), sys: stime / clockTicks() };
}

/** Peak resident set size over the process lifetime (VmHWM), in bytes. */
export function peakRssBytes(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmHWM:\s+(\d+)\s+kB$/m.exec(status);
  if (m === null) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

export interface MachineInfo {
  date: string;
  nproc: number;
  cpuModel: string;
  node: string;
  kernel: string;
  /** 1-minute load average when the run started (other work on the machine skews results) */
  load1: number;
}

export function machineInfo(): MachineInfo {
  let cpuModel = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m !== null) cpuModel = m[1].trim();
  } catch {
    // keep the os.cpus() answer
  }
  return {
    date: new Date().toISOString(),
    nproc: os.availableParallelism(),
    cpuModel,
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
    load1: os.loadavg()[0],
  };
}
