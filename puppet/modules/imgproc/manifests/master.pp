# The master node: RabbitMQ (listening on every address, with a user of its own
# for the workers) and ZooKeeper from Debian's packages, the object store
# (imgproc::storage: S3 for the workers on port 8334), and imgproc's deployer and
# scaler as services.
class imgproc::master (
  String $rabbit_password = $facts['imgproc_rabbit_password'].lest || {
    fail('imgproc::master needs the fact imgproc_rabbit_password')
  },
  String $rabbit_user = 'imgproc',
  String $policy = $facts['imgproc_policy'].lest || { 'slo' },
  Enum['local', 'vagrant'] $provider = 'local',
) {
  include imgproc
  include imgproc::storage

  exec { 'apt-update':
    command => '/usr/bin/apt-get update -q',
    creates => '/var/lib/apt/lists/lock',
    timeout => 600,
  }

  package { ['rabbitmq-server', 'zookeeperd']:
    ensure  => installed,
    require => Exec['apt-update'],
  }

  file { '/etc/rabbitmq/rabbitmq.conf':
    ensure  => file,
    owner   => 'root',
    group   => 'rabbitmq',
    mode    => '0640',
    content => "listeners.tcp.default = 5672\n",
    require => Package['rabbitmq-server'],
  }

  service { 'rabbitmq-server':
    ensure    => running,
    enable    => true,
    subscribe => File['/etc/rabbitmq/rabbitmq.conf'],
  }

  service { 'zookeeper':
    ensure  => running,
    enable  => true,
    require => Package['zookeeperd'],
  }

  exec { 'rabbitmq-imgproc-user':
    command     => "/usr/sbin/rabbitmqctl add_user ${rabbit_user} \"\${IMGPROC_RABBIT_PASSWORD}\" && /usr/sbin/rabbitmqctl set_permissions -p / ${rabbit_user} '.*' '.*' '.*'",
    unless      => "/usr/sbin/rabbitmqctl -q list_users | /bin/grep -q '^${rabbit_user}\\b'",
    environment => ["IMGPROC_RABBIT_PASSWORD=${rabbit_password}"],
    provider    => shell,
    require     => Service['rabbitmq-server'],
  }

  $env_file = '/etc/imgproc/master.env'
  $rabbit_url = "amqp://${rabbit_user}:${rabbit_password}@127.0.0.1:5672/%2F"

  file { $env_file:
    ensure  => file,
    owner   => 'root',
    group   => $imgproc::user,
    mode    => '0640',
    content => "IMGPROC_RABBIT__URL=${rabbit_url}\nIMGPROC_ZK__HOSTS=127.0.0.1:2181\nIMGPROC_POLICY=${policy}\nIMGPROC_PROVIDER__KIND=${provider}\n",
    require => [File['/etc/imgproc'], Group[$imgproc::user]],
  }

  imgproc::service { 'deployer':
    command => "deployer --provider ${provider}",
    env_file => $env_file,
    after   => ['rabbitmq-server.service', 'zookeeper.service'],
    require => [Exec['rabbitmq-imgproc-user'], Service['zookeeper']],
  }

  imgproc::service { 'scaler':
    command  => 'scaler',
    env_file => $env_file,
    after    => ['rabbitmq-server.service', 'zookeeper.service'],
    require  => [Exec['rabbitmq-imgproc-user'], Service['zookeeper']],
  }
}
