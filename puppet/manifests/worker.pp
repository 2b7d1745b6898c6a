# A worker VM: imgproc installed from the wheels the deployer uploaded (no
# network needed in the guest) and run by systemd, pointed at the host's
# RabbitMQ and ZooKeeper by the settings in the uploaded environment file.
#
# Vagrant's Puppet provisioner applies it (vagrant/worker/Vagrantfile) with the facts
#   imgproc_machine_id       this machine's id in the registry (also its host name)
#   imgproc_wheels_dir       where the wheels are in the guest (/vagrant/wheels)
#   imgproc_env_file         the worker's IMGPROC_* settings (/vagrant/imgproc.env)
#   imgproc_drain_timeout_s  how long a stopping worker may take to finish its job
include imgproc::worker
