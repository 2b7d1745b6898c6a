# imgproc installed into its own virtual environment from a directory of wheels
# (imgproc and every dependency), with the system user its services run as.
class imgproc (
  String $wheels_dir = $facts['imgproc_wheels_dir'].lest || {
    fail('class imgproc needs the fact imgproc_wheels_dir (where the wheels are)')
  },
  String $venv = '/opt/imgproc/venv',
  String $user = 'imgproc',
  String $home = '/var/lib/imgproc',
) {
  package { ['python3', 'python3-venv']:
    ensure => installed,
  }

  group { $user:
    ensure => present,
    system => true,
  }

  user { $user:
    ensure     => present,
    system     => true,
    gid        => $user,
    home       => $home,
    managehome => false,
    shell      => '/usr/sbin/nologin',
    require    => Group[$user],
  }

  file { [$home, "${home}/output"]:
    ensure  => directory,
    owner   => $user,
    group   => $user,
    mode    => '0755',
    require => User[$user],
  }

  file { ['/opt/imgproc', '/etc/imgproc']:
    ensure => directory,
    owner  => 'root',
    group  => 'root',
    mode   => '0755',
  }

  exec { 'imgproc-venv':
    command => "/usr/bin/python3 -m venv ${venv}",
    creates => "${venv}/bin/python",
    require => [Package['python3-venv'], File['/opt/imgproc']],
  }

  # Every dependency from the wheels, unless the venv already holds exactly these (by
  # name, listed in .dependency-wheels). --no-index: the guest needs no network;
  # --no-compile: byte-compiling costs minutes under emulation (the box builder compiles
  # the baked venv natively afterwards, and Python compiles what it imports).
  $pip = "${venv}/bin/pip install --quiet --no-index --no-compile --find-links ${wheels_dir}"
  $dependency_wheels = "ls ${wheels_dir} | grep '\\.whl\$' | grep -v '^imgproc-' | LC_ALL=C sort"

  exec { 'imgproc-dependencies':
    command  => "${pip} \$(${dependency_wheels} | sed 's|^|${wheels_dir}/|') && ${dependency_wheels} > ${venv}/.dependency-wheels",
    unless   => "${dependency_wheels} | cmp -s - ${venv}/.dependency-wheels",
    provider => shell,
    timeout  => 1800,
    require  => Exec['imgproc-venv'],
  }

  # imgproc's own wheel, unless the venv holds exactly that wheel (by content, kept in
  # .imgproc-wheel): a baked box keeps the imgproc it was built with, and a node given
  # another wheel (the master on a worker box) installs that one.
  $wheel_hash = "sha256sum ${wheels_dir}/imgproc-*.whl | cut -d ' ' -f 1"

  exec { 'imgproc-install':
    command  => "${pip} --no-deps --force-reinstall ${wheels_dir}/imgproc-*.whl && ${wheel_hash} > ${venv}/.imgproc-wheel",
    unless   => "${wheel_hash} | cmp -s - ${venv}/.imgproc-wheel",
    provider => shell,
    timeout  => 1800,
    require  => Exec['imgproc-dependencies'],
  }
}
