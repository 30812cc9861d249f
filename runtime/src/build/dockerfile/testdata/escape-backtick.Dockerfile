# escape=`
FROM mcr.microsoft.com/windows/servercore
WORKDIR C:\app
COPY testfile.txt C:\
RUN dir c:\ `
    && echo done
ENV PATH="C:\tools;${PATH}"
