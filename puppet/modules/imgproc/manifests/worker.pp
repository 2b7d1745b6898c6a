# A worker: `imgproc worker --machine-id ID` as the service imgproc-worker,
# with the IMGPROC_* settings the deployer uploaded (the broker, ZooKeeper and
# the object store at the host's address on the VMs' network, with the fleet's
# credentials: the file is root's alone, systemd reads it before dropping to
# the service's user).
class imgproc::worker (
  String $machine_id = $facts['imgproc_machine_id'].lest || { $facts['networking']['hostname'] },
  String $env_source = $facts['imgproc_env_file'].lest || { '/vagrant/imgproc.env' },
  Integer $drain_timeout_s = Integer($facts['imgproc_drain_timeout_s'].lest || { '60' }),
) {
  include imgproc

  $env_file = '/etc/imgproc/worker.env'

  file { $env_file:
    ensure  => file,
    source  => $env_source,
    owner   => 'root',
    group   => 'root',
    mode    => '0600',
    require => File['/etc/imgproc'],
  }

  imgproc::service { 'worker':
    command        => "worker --machine-id ${machine_id}",
    env_file       => $env_file,
    description    => "imgproc worker ${machine_id}",
    stop_timeout_s => $drain_timeout_s,
  }
}
