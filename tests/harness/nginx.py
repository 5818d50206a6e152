"""A real nginx in front of a site, for tests: unprivileged, in the
foreground, passing every request to the site's SCGI address (scgi_pass),
or with http=True to its HTTP address (proxy_pass over HTTP/1.1 with
upstream keep-alive and no buffering)."""

import os
import shutil
import signal
import socket
import subprocess

from harness.processes import free_port, wait_until

__all__ = ['Nginx', 'find_nginx']


def find_nginx():
    """() -> str | None: the nginx binary."""
    return shutil.which('nginx') or next(
        (p for p in ('/usr/sbin/nginx', '/usr/local/sbin/nginx')
         if os.path.exists(p)), None)


NGINX_CONF = '''\
%(user)s
worker_processes 1;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log warn;
events { worker_connections 512; }
http {
    access_log off;
    client_body_temp_path %(dir)s/client_body;
    proxy_temp_path %(dir)s/proxy;
    fastcgi_temp_path %(dir)s/fastcgi;
    uwsgi_temp_path %(dir)s/uwsgi;
    scgi_temp_path %(dir)s/scgi;
    %(upstream_block)s
    server {
        listen 127.0.0.1:%(port)d;
        location / {
%(location)s
        }
    }
}
'''

SCGI_LOCATION = '''\
            include %(scgi_params)s;
            scgi_pass %(upstream)s;'''

HTTP_UPSTREAM = 'upstream site { server %(upstream)s; keepalive 4; }'

HTTP_LOCATION = '''\
            proxy_pass http://site;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;'''


class Nginx:
    """(directory:str, address:(host, port), http:bool=False,
        location:str=None)
    A real nginx, unprivileged and in the foreground, passing every request
    to address with scgi_pass, or with http, proxy_pass; location: the
    location block's lines instead (such as those `qpd build` writes)."""

    def __init__(self, directory, address, http=False, location=None):
        self.directory = directory
        self.port = free_port()
        self.address = address
        self.http = http
        self.location = location
        self.process = None

    find = staticmethod(find_nginx)

    def start(self):
        os.makedirs(self.directory, exist_ok=True)
        params = '/etc/nginx/scgi_params'
        if not os.path.exists(params):
            params = os.path.join(self.directory, 'scgi_params')
            with open(params, 'w') as f:
                for name, var in [
                        ('REQUEST_METHOD', 'request_method'),
                        ('REQUEST_URI', 'request_uri'),
                        ('QUERY_STRING', 'query_string'),
                        ('CONTENT_TYPE', 'content_type'),
                        ('CONTENT_LENGTH', 'content_length'),
                        ('SERVER_PROTOCOL', 'server_protocol'),
                        ('REMOTE_ADDR', 'remote_addr'),
                        ('REMOTE_PORT', 'remote_port'),
                        ('SERVER_PORT', 'server_port'),
                        ('SERVER_NAME', 'server_name')]:
                    f.write('scgi_param %s $%s;\n' % (name, var))
        conf = os.path.join(self.directory, 'nginx.conf')
        values = {'scgi_params': params,
                  'upstream': '%s:%d' % tuple(self.address)}
        with open(conf, 'w') as f:
            f.write(NGINX_CONF % {
                'user': 'user root;' if os.geteuid() == 0 else '',
                'dir': self.directory, 'port': self.port,
                'upstream_block': HTTP_UPSTREAM % values
                if self.http and self.location is None else '',
                'location': self.location if self.location is not None
                else (HTTP_LOCATION if self.http else SCGI_LOCATION)
                % values})
        self.process = subprocess.Popen(
            [self.find(), '-p', self.directory, '-c', conf,
             '-g', 'daemon off;'], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True)

        def listening():
            if self.process.poll() is not None:
                raise AssertionError('nginx exited: %s' %
                                     self.process.stderr.read().decode())
            try:
                socket.create_connection(('127.0.0.1', self.port), 0.2).close()
                return True
            except OSError:
                return False
        wait_until(listening, timeout=10)
        return self

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)  # stray workers
            except OSError:
                pass
