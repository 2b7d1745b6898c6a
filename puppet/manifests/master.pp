# The master node: RabbitMQ and ZooKeeper, and imgproc's scaler and deployer
# services. Vagrant's Puppet provisioner applies it (vagrant/master/Vagrantfile)
# with the facts
#   imgproc_wheels_dir       where the wheels are in the guest (/vagrant/wheels)
#   imgproc_rabbit_password  the password of the broker's imgproc user
#   imgproc_policy           the scaling policy the scaler starts with (optional)
include imgproc::master
