# One imgproc command run by systemd as a service, restarted when it fails.
# Stopping sends SIGTERM (a worker finishes its job, acks and exits) and kills
# only after $stop_timeout_s.
#
# With $run false only the unit is installed, neither enabled nor started: a box
# baked with it starts the service once the machine's own settings are written
# (imgproc::worker's setup script), and no systemd need be running meanwhile.
define imgproc::service (
  String $command,
  String $env_file,
  String $description = "imgproc ${title}",
  Integer $stop_timeout_s = 90,
  Array[String] $after = [],
  Boolean $run = true,
) {
  include imgproc

  $unit = "/etc/systemd/system/imgproc-${title}.service"

  file { $unit:
    ensure  => file,
    owner   => 'root',
    group   => 'root',
    mode    => '0644',
    content => epp('imgproc/imgproc.service.epp', {
      'description'    => $description,
      'exec_start'     => "${imgproc::venv}/bin/imgproc ${command}",
      'env_file'       => $env_file,
      'user'           => $imgproc::user,
      'home'           => $imgproc::home,
      'stop_timeout_s' => $stop_timeout_s,
      'after'          => $after,
    }),
  }

  if $run {
    exec { "imgproc-${title}-daemon-reload":
      command     => '/bin/systemctl daemon-reload',
      refreshonly => true,
      subscribe   => File[$unit],
    }

    service { "imgproc-${title}":
      ensure    => running,
      enable    => true,
      provider  => systemd,
      require   => Exec["imgproc-${title}-daemon-reload"],
      subscribe => [File[$unit, $env_file], Exec['imgproc-install']],
    }
  }
}
