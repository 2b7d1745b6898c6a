"""Worker VMs through Vagrant (vagrant-libvirt here), from a box Puppet baked.

``provider`` holds the provider itself (the deployer's port) and ``options`` its
settings; the other modules its parts: the box and the host set-up (``box``), the
wheels baked into the box (``wheels``), KVM or software emulation
(``acceleration``), what is asked of libvirt directly (``libvirt``), the guests'
settings and how they reach the host's services (``guest``, ``relay``), and
Vagrant commands with timeouts (``command``). See docs/vagrant.md.
"""

from imgproc.adapters.providers.vagrant.box import BoxInfo, build_box
from imgproc.adapters.providers.vagrant.options import VagrantOptions
from imgproc.adapters.providers.vagrant.provider import VagrantProvider

PROVIDER = VagrantProvider

__all__ = ["PROVIDER", "BoxInfo", "VagrantOptions", "VagrantProvider", "build_box"]
