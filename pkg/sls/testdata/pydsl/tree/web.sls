#!pydsl
# pydsl's API as Salt documents it: state(id).module.function(...),
# state(id).module('function', ...), the name as first positional
# argument, requisites by declaration or module='id', include, extend,
# __pydsl__.set(ordered=True) and the data brine passes in.
include('base')

apache = state('apache')
apache.pkg.installed()
apache.service.running().watch(file='/etc/apache2/apache2.conf')

state('/etc/apache2/apache2.conf') \
    .file('managed',
          contents='site ' + __pillar__['site'] + ' on ' + __grains__['id'],
          mode='0644') \
    .require(apache.pkg, pkg=['libapache2-mod-wsgi'])

state('libapache2-mod-wsgi').pkg.installed()

extend(state('base-state').test.watch(pkg='apache'))

if 'test.echo' in __salt__ and 'no.such' not in __salt__:
    state('site').test.succeed_without_changes(__salt__['pillar.get']('site'),
                                               port=__salt__['config.get']('port', 80))

__pydsl__.set(ordered=True)
for i in range(3):
    state('step%d' % i).cmd.run('echo %d' % i, cwd='/')
state('step1').cmd.run('echo one')
