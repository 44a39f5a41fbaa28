/**
 * keepalived script settings (`script`, `notify*`, `misc_path`) -> a vipd
 * argv, which must start with an absolute path and never needs a shell.
 *
 * keepalived 2.x splits the script string into words itself and execs
 * them; a bare program name is searched on PATH when the config is loaded
 * (and the script is disabled when it is not found); a string starting
 * with `</` (a file/port probe such as `</dev/tcp/host/port`) goes to
 * system(), that is /bin/sh -c.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { join } from 'node:path';
import type { DiagnosticLog } from './diagnostics.js';
import { splitCommand } from './lexer.js';
import type { Statement } from './parser.js';
import { describe } from './values.js';

/** glibc's confstr(_CS_PATH): what keepalived searches when it has no PATH. */
const CS_PATH = '/bin:/usr/bin';
/** Where a program not found on this host is assumed to live on the vipd host. */
const FALLBACK_DIR = '/usr/bin';

export type CommandRole = 'script' | 'notify' | 'check';

/** The first character outside single quotes that only a shell gives a meaning, if any. */
export function shellSyntax(text: string): string | undefined {
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const char = text[i] ?? '';
    const next = text[i + 1] ?? '';
    if (char === '\\' && quote !== "'") {
      i++;
    } else if (quote === "'") {
      if (char === "'") quote = undefined;
    } else if (char === '$' && (next === '(' || next === '{' || /[A-Za-z_?$!#@*0-9]/.test(next))) {
      return next === '(' ? '$(' : '$';
    } else if (char === '`') {
      return char;
    } else if (quote === '"') {
      if (char === '"') quote = undefined;
    } else if (char === '"' || char === "'") {
      quote = char;
    } else if (char === '&' && next === '&') {
      return '&&';
    } else if (char === '|' && next === '|') {
      return '||';
    } else if ('|&;<>*?['.includes(char) || (char === '~' && (i === 0 || /\s/.test(text[i - 1] ?? '')))) {
      return char;
    }
  }
  return undefined;
}

/** Resolves and splits keepalived commands, reporting what the operator should review. */
export class CommandReader {
  private readonly searchDirs: readonly string[];

  /** `searchPath`: a PATH-style list; keepalived uses its own PATH, or /bin:/usr/bin without one. */
  constructor(private readonly log: DiagnosticLog, searchPath: string | undefined) {
    this.searchDirs = (searchPath || CS_PATH).split(':').filter((dir) => dir.startsWith('/'));
  }

  /** The argv, or undefined after reporting why there is none. */
  read(statement: Statement, role: CommandRole): string[] | undefined {
    const [text = '', ...extra] = statement.args;
    if (role === 'notify' && extra.length > 0) {
      // keepalived reads the word after the script as the user (and group) to run it as.
      this.log.note(statement, `${statement.keyword} ... ${extra.join(' ')}`,
        `keepalived runs this command as user${extra.length > 1 ? ' and group' : ''} "${extra.join(':')}" (quote the command to give it arguments); vipd runs it as its own user`);
    }
    const source = role === 'notify' ? text : statement.args.join(' ');
    const argv = splitCommand(source);
    if (argv.length === 0) {
      this.log.dropped(statement, statement.keyword, 'no command given; ignored');
      return undefined;
    }
    if (/^<[ \t]*\//.test(argv[0] ?? '')) {
      this.log.note(statement, describe(statement), 'keepalived runs a script starting with "</" through /bin/sh (it only tests that the file or port opens); converted to an explicit [/bin/sh, -c, ...]');
      return this.throughShell(argv.join(' '), role);
    }
    const syntax = shellSyntax(source);
    if (syntax !== undefined) {
      this.log.dropped(statement, describe(statement), `"${syntax}" needs a shell, and keepalived 2.x runs no shell here: it passes "${syntax}" to ${argv[0]} as a plain argument, so this command cannot have worked as written; converted to [/bin/sh, -c, ...] as it was meant: review it`);
      return this.throughShell(source, role);
    }
    const program = argv[0] ?? '';
    if (program.startsWith('/')) return argv;
    if (program.includes('/')) {
      this.log.dropped(statement, describe(statement), `"${program}" is relative to keepalived's working directory; vipd needs the absolute path: write it`);
      return undefined;
    }
    return [this.resolve(statement, program), ...argv.slice(1)];
  }

  /** keepalived 2.x finds a bare name on PATH when it loads the config, as execvp would. */
  private resolve(statement: Statement, name: string): string {
    const found = this.searchDirs.map((dir) => join(dir, name)).find(isExecutableFile);
    if (found) {
      this.log.note(statement, describe(statement), `"${name}" resolved on PATH to ${found}, as keepalived does when it loads the config; check the vipd host has it there`);
      return found;
    }
    const assumed = join(FALLBACK_DIR, name);
    this.log.dropped(statement, describe(statement), `"${name}" is not on this host's PATH (${this.searchDirs.join(':')}); written as ${assumed}, where vipd will look for it: correct the path for the vipd host (keepalived disables a script it cannot find)`);
    return assumed;
  }

  private throughShell(text: string, role: CommandRole): string[] {
    // vipd appends INSTANCE NAME STATE PRIORITY to notify commands: "sh" fills $0 so they arrive as $1..$4.
    return role === 'notify' ? ['/bin/sh', '-c', text, 'sh'] : ['/bin/sh', '-c', text];
  }
}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
