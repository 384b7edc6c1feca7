#!/usr/bin/python3
# Ansible module: a backing device is cached by PCache with the settings asked for, or is not
# (PCache/Backing in DSC terms). It reads the daemon's state through the pcache command line (JSON
# on stdout), so check mode and --diff tell what would change without changing anything.

DOCUMENTATION = r'''
module: pcache_backing
short_description: Cache a block device or file with PCache, or stop caching it
description:
  - I(state=present) attaches I(path) to the cache device I(cache) (C(pcache backing-start)) or, when it
    is attached already, changes I(gc_percent) in place (C(pcache backing-set)). A different I(cache_size)
    or cache cannot be reached without removing the backing first, and the task fails instead of
    dropping its cached data.
  - I(state=absent) writes back every dirty byte and stops caching it (C(pcache backing-stop)); it fails
    while NBD clients are connected to the export (a mounted filesystem), unless I(force=true).
  - Supports check mode and diff mode.
options:
  path: {description: The backing block device or file., type: path, required: true}
  cache: {description: Path of the started cache device to use (see pcache_cache)., type: path}
  cache_size: {description: Cache space for this backing (e.g. 2G)., type: str}
  gc_percent: {description: Start GC at this % of the backing's segments (0..90)., type: int}
  state: {description: present or absent., type: str, default: present, choices: [present, absent]}
  force: {description: With state=absent, stop even while NBD clients are connected., type: bool, default: false}
  socket: {description: The daemon's control socket., type: path, default: /run/pcache/pcache.sock}
  executable: {description: The pcache command line., type: path, default: pcache}
'''

RETURN = r'''
backing: {description: The backing as C(pcache backing-list) reports it, after the change., type: dict, returned: when present}
'''

import json
import re

from ansible.module_utils.basic import AnsibleModule

UNITS = {'': 0, 'K': 10, 'M': 20, 'G': 30, 'T': 40, 'P': 50}


def pcache(module, *args):
    cmd = [module.params['executable']] + list(args) + ['--socket', module.params['socket']]
    rc, out, err = module.run_command(cmd)
    if rc != 0:
        module.fail_json(msg='%s failed: %s' % (' '.join(cmd[:2]), err.strip() or out.strip()), rc=rc, cmd=cmd)
    return json.loads(out)


def size_bytes(module, text):
    m = re.fullmatch(r'(\d+)\s*([KMGTP]?)(?:i?B)?', text.strip(), re.IGNORECASE)
    if not m:
        module.fail_json(msg="cache_size '%s' is not a size such as 512M or 2G (powers of 1024)" % text)
    return int(m.group(1)) << UNITS[m.group(2).upper()]


def view(b):
    """What the diff shows of a backing."""
    if b is None:
        return {'attached': False}
    return {'attached': True, 'cache_id': b['cache_id'], 'cache_size': b['cache_size'],
            'gc_percent': b['cache_gc_percent'], 'state': b['state']}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            cache=dict(type='path'),
            cache_size=dict(type='str'),
            gc_percent=dict(type='int'),
            state=dict(type='str', default='present', choices=['present', 'absent']),
            force=dict(type='bool', default=False),
            socket=dict(type='path', default='/run/pcache/pcache.sock'),
            executable=dict(type='path', default='pcache'),
        ),
        required_if=[('state', 'present', ('cache', 'cache_size'))],
        supports_check_mode=True,
    )
    p = module.params
    attached = next((b for b in pcache(module, 'backing-list') if b['backing_path'] == p['path']), None)

    if p['state'] == 'absent':
        if attached is None:
            module.exit_json(changed=False)
        clients = attached.get('nbd_clients', 0)
        if clients and not p['force']:
            module.fail_json(msg='backing %d (%s) is in use: %d NBD client(s) connected to %s; unmount or disconnect them, or set force=true'
                             % (attached['backing_id'], p['path'], clients, attached['export']))
        diff = dict(before=view(attached), after=view(None))
        if not module.check_mode:
            args = ['backing-stop', '--backing-id', str(attached['backing_id'])] + (['--force'] if p['force'] else [])
            pcache(module, *args)
        module.exit_json(changed=True, diff=diff)

    cache = next((c for c in pcache(module, 'cache-list') if c['path'] == p['cache']), None)
    wanted = size_bytes(module, p['cache_size'])
    if attached is None:
        after = {'attached': True, 'cache_id': cache['cache_id'] if cache else None, 'cache_size': wanted,
                 'gc_percent': p['gc_percent'] if p['gc_percent'] is not None else 70, 'state': 'running'}
        diff = dict(before=view(None), after=after)
        if module.check_mode:
            module.exit_json(changed=True, diff=diff)
        if cache is None:
            module.fail_json(msg='the cache device %s is not started on the daemon (start it first with pcache_cache)' % p['cache'])
        args = ['backing-start', '--path', p['path'], '--cache-id', str(cache['cache_id']), '--cache-size', p['cache_size']]
        if p['gc_percent'] is not None:
            args += ['--gc-percent', str(p['gc_percent'])]
        started = pcache(module, *args)
        module.exit_json(changed=True, diff=dict(before=view(None), after=view(started)), backing=started)

    # Attached: the cache and the cache size are fixed while it is; GC percent changes in place.
    segments = attached['cache_segs'] or 1
    segment = attached['cache_size'] // segments
    problems = []
    if cache is None or attached['cache_id'] != cache['cache_id']:
        problems.append('it is on cache %d, not on %s' % (attached['cache_id'], p['cache']))
    if (wanted + segment - 1) // segment != attached['cache_segs']:
        problems.append('its cache size is %d bytes, not %s' % (attached['cache_size'], p['cache_size']))
    if attached['state'] != 'running':
        problems.append('it is %s: %s' % (attached['state'], attached.get('error')))
    if problems:
        module.fail_json(msg='backing %d (%s) cannot be changed in place: %s; remove it first (state=absent writes back its dirty data)'
                         % (attached['backing_id'], p['path'], '; '.join(problems)))
    if p['gc_percent'] is None or p['gc_percent'] == attached['cache_gc_percent']:
        module.exit_json(changed=False, backing=attached)
    after = dict(view(attached), gc_percent=p['gc_percent'])
    diff = dict(before=view(attached), after=after)
    if module.check_mode:
        module.exit_json(changed=True, diff=diff, backing=attached)
    changed = pcache(module, 'backing-set', '--backing-id', str(attached['backing_id']), '--gc-percent', str(p['gc_percent']))
    module.exit_json(changed=True, diff=dict(before=view(attached), after=view(changed)), backing=changed)


if __name__ == '__main__':
    main()
