# The master node: RabbitMQ and ZooKeeper, and imgproc's scaler and deployer
# services. Vagrant's Puppet provisioner applies it (vagrant/master/Vagrantfile)
# with the facts
#   imgproc_wheels_dir       where the wheels are in the guest (/srv/imgproc/wheels)
#   imgproc_rabbit_password  the password of the broker's imgproc user
#   imgproc_policy           the scaling policy the scaler starts with (optional)
#   imgproc_s3_secret        the object store's own S3 secret (identity imgproc)
#   imgproc_fleet_s3_secret  the workers' S3 secret (identity imgproc-fleet)
include imgproc::master
