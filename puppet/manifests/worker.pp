# A worker VM's image, applied once into the box by scripts/build-box.sh (in the
# image's root file system, natively) with the fact
#   imgproc_wheels_dir   where imgproc's wheels and its dependencies' are
# A booted copy becomes a machine with /usr/local/sbin/imgproc-worker-setup
# (vagrant/worker/Vagrantfile runs it).
include imgproc::worker
