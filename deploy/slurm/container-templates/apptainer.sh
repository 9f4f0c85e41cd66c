#!/bin/bash
# Container job through Apptainer, pulling the image from a registry on first use.
# {image} and {command} are replaced by the job's image and command, quoted for the shell.
srun apptainer exec --nv docker://{image} /bin/sh -c {command}
