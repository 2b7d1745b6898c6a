# A worker's image: imgproc from the wheels, the imgproc-worker unit (installed,
# not started) and the setup script that makes one booted copy of the image a
# machine. scripts/build-box.sh applies this once into the box (natively, at build
# time); what is per machine (its id, its IMGPROC_* settings with the broker,
# ZooKeeper and the object store at the host's address on the VMs' network and
# the fleet's credentials, its drain timeout) is written at boot by
# imgproc-worker-setup, which Vagrant runs (vagrant/worker/Vagrantfile). The unit
# takes the machine id from the drop-in that script writes.
class imgproc::worker {
  include imgproc

  $env_file = '/etc/imgproc/worker.env'
  $unit = 'imgproc-worker'

  imgproc::service { 'worker':
    command     => 'worker --machine-id ${MACHINE_ID}',  # expanded by systemd, not Puppet
    env_file    => $env_file,
    description => 'imgproc worker',
    run         => false,
  }

  file { '/usr/local/sbin/imgproc-worker-setup':
    ensure  => file,
    owner   => 'root',
    group   => 'root',
    mode    => '0755',
    content => epp('imgproc/worker-setup.sh.epp', {
      'env_file' => $env_file,
      'unit'     => $unit,
    }),
  }
}
