#!/usr/bin/python3
# Ansible module: a PCache cache device is started (PCache/Cache in DSC terms). It reads the
# daemon's state through the pcache command line (JSON on stdout), so check mode and --diff tell
# what would change without changing anything.

DOCUMENTATION = r'''
module: pcache_cache
short_description: Start a PCache cache device (pmem, or a file standing in for it)
description:
  - Runs C(pcache cache-start) when I(path) is not started on the daemon yet; a started cache is left as it is.
  - Supports check mode and diff mode.
options:
  path: {description: The pmem device or stand-in file., type: path, required: true}
  size: {description: Create a file of this size (e.g. 8G) when I(path) does not exist., type: str}
  socket: {description: The daemon's control socket., type: path, default: /run/pcache/pcache.sock}
  executable: {description: The pcache command line., type: path, default: pcache}
'''

RETURN = r'''
cache_id: {description: The cache's id; null in check mode when it would be started., type: int, returned: always}
cache: {description: The cache as C(pcache cache-list) reports it., type: dict, returned: when started}
'''

import json

from ansible.module_utils.basic import AnsibleModule


def pcache(module, *args):
    cmd = [module.params['executable']] + list(args) + ['--socket', module.params['socket']]
    rc, out, err = module.run_command(cmd)
    if rc != 0:
        module.fail_json(msg='%s failed: %s' % (' '.join(cmd[:2]), err.strip() or out.strip()), rc=rc, cmd=cmd)
    return json.loads(out)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            size=dict(type='str'),
            socket=dict(type='path', default='/run/pcache/pcache.sock'),
            executable=dict(type='path', default='pcache'),
        ),
        supports_check_mode=True,
    )
    path = module.params['path']
    started = [c for c in pcache(module, 'cache-list') if c['path'] == path]
    if started:
        module.exit_json(changed=False, cache_id=started[0]['cache_id'], cache=started[0])

    diff = dict(before={'path': path, 'started': False}, after={'path': path, 'started': True})
    if module.check_mode:
        module.exit_json(changed=True, cache_id=None, diff=diff)
    args = ['cache-start', '--path', path]
    if module.params['size']:
        args += ['--size', module.params['size']]
    result = pcache(module, *args)
    module.exit_json(changed=True, cache_id=result['cache']['cache_id'], cache=result['cache'], diff=diff)


if __name__ == '__main__':
    main()
