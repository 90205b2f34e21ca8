import type { TargetSpec } from './spec.js';

/** The zero-configuration target: public.followers(email, full_name, modified_at), keyed by email. */
export const followersTarget: TargetSpec = Object.freeze<TargetSpec>({
  name: 'followers',
  schema: 'public',
  table: 'followers',
  stagingSchema: 'public',
  stagingTable: 'staging_followers',
  key: ['email'],
  columns: [
    { name: 'email', sqlType: 'varchar(255)', source: 'email', rule: { kind: 'email' } },
    {
      name: 'full_name',
      sqlType: 'varchar(255)',
      source: 'full_name',
      rule: { kind: 'text', maxLength: 255, trim: true, allowEmpty: false },
    },
  ],
  modifiedColumn: 'modified_at',
  mode: 'mirror',
});
