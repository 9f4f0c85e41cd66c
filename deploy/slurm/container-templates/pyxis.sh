#!/bin/bash
# Container job through NVIDIA pyxis/enroot (the platform's default template).
# {image} and {command} are replaced by the job's image and command, quoted for the shell.
srun --container-image={image} /bin/sh -c {command}
