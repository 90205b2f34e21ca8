/**
 * Command-line options built from a table of setting definitions, so every setting has a flag that
 * its help text ties to its environment variable and default. Only flags actually given on the
 * command line are passed on: commander's own defaults (true for a --no-X switch) must not hide the
 * environment.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { SettingDef, Values } from '../config/setting.js';
import type { Parser } from '../config/values.js';

const takesValue = (def: SettingDef) => def.flag.includes('<');

export function addSettingOptions(cmd: Command, defs: readonly SettingDef[]): Command {
  for (const def of defs) {
    const envNote = def.env === undefined ? '' : ` [env ${def.env}]`;
    const defaultNote = def.default !== undefined && takesValue(def) ? ` (default: ${def.default})` : '';
    const choices = (def.parse as { choices?: readonly string[] }).choices;
    const choicesNote = choices ? ` (one of: ${choices.join(', ')})` : '';
    cmd.addOption(new Option(def.flag, def.help + choicesNote + envNote + defaultNote));
    // A --no-X switch (default true) also takes --X, to undo X=false in the environment.
    if (def.flag.startsWith('--no-')) {
      cmd.addOption(new Option(`--${def.flag.slice(5)}`, `the opposite of ${def.flag} (the default)${envNote}`));
    }
  }
  return cmd;
}

/** The values of the definitions' flags given on the command line, by setting key. */
export function settingValuesFrom<K extends string>(
  command: Command,
  defs: readonly (SettingDef & { key: K })[],
): Values<K> {
  const values: Values<K> = {};
  const opts = command.opts();
  for (const def of defs) {
    const attribute = new Option(def.flag).attributeName();
    if (command.getOptionValueSource(attribute) === 'cli') values[def.key] = opts[attribute] as string | boolean;
  }
  return values;
}

/**
 * A command-only option (not a setting: no environment variable) checked by a setting parser, so
 * its usage error reads like commander's: `option '--limit <n>' argument '0' is invalid. ...`.
 */
export function argumentParser<T>(parse: Parser<T>): (value: string) => T {
  return (value) => {
    const origin = 'the value';
    try {
      return parse({ value, origin });
    } catch (error) {
      // commander names the option and the value already: keep only what is wrong and the fix.
      const message = (error as Error).message;
      const prefix = `${origin}=${JSON.stringify(value)} `;
      throw new InvalidArgumentError(
        message.startsWith(prefix) ? message.slice(prefix.length).replace(/^is /u, '') : message,
      );
    }
  };
}
